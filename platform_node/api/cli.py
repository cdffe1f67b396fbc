"""CLI hook of the bank API: `xyd institution add|list|suspend|reinstate|rotate-key|agreement` and
`xyd api serve --config FILE` (their parser: `platform_node.api.command_line`).

All commands read the `[api]` table of the given TOML file (database URL, secrets file). API keys are
printed once and never stored in clear.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from consent.audit import open_engine
from consent.authorisation.codec import format_time
from platform_node.api.command_line import register
from platform_node.api.server_secrets import PlatformSecrets, load_or_create_master
from platform_node.api.settings import ApiSettings, ApiSettingsError, load_settings
from platform_node.institutions.agreements import AgreementBook
from platform_node.institutions.credentials import KeyHasher
from platform_node.institutions.errors import InstitutionError
from platform_node.institutions.model import InstitutionLimits
from platform_node.institutions.registry import InstitutionRegistry
from platform_node.institutions.webhook_secrets import SecretBox
from platform_node.reports.public_records import PublicRecordSource
from platform_node.scoring.scorer import Scorer

log = logging.getLogger("xyd.platform.api")


def platform_secrets(settings: ApiSettings) -> PlatformSecrets:
    if settings.secrets_file is None:
        raise ApiSettingsError("[api] secrets_file is required (the master secret of API keys and webhooks)")
    return PlatformSecrets.from_master(load_or_create_master(settings.secrets_file))


def _registry(settings: ApiSettings) -> tuple[InstitutionRegistry, AgreementBook]:
    secrets = platform_secrets(settings)
    engine = open_engine(settings.database_url)
    registry = InstitutionRegistry(engine, KeyHasher(secrets.api_key_pepper), SecretBox(secrets.webhook_seal_key))
    registry.create_schema()
    return registry, AgreementBook(engine)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add(args: argparse.Namespace) -> int:
    settings = load_settings(Path(args.config))
    registry, _ = _registry(settings)
    defaults = settings.default_limits
    limits = InstitutionLimits(
        args.rate if args.rate is not None else defaults.rate_per_s,
        args.burst if args.burst is not None else defaults.burst,
        args.daily_quota if args.daily_quota is not None else defaults.daily_quota,
    )
    inst, key = registry.add(kind=args.kind, slug=args.slug, name=args.name, role=args.role,
                             now=datetime.now(UTC), limits=limits)
    print(json.dumps({"institution_id": inst.id, "role": inst.role.value, "api_key": key.token}))
    print("store the api_key now: it is shown once and only its hash is kept", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    registry, agreements = _registry(load_settings(Path(args.config)))
    for inst in registry.list():
        scopes = sorted({s.value for a in agreements.list_for(inst.id) for s in a.scopes})
        print(f"{inst.id:<32} {inst.role.value:<11} {inst.status.value:<10} {inst.limits.rate_per_s:g}/s "
              f"burst {inst.limits.burst} quota {inst.limits.daily_quota}/day  agreements: {','.join(scopes) or '-'}")
    return 0


def _suspend(args: argparse.Namespace) -> int:
    registry, _ = _registry(load_settings(Path(args.config)))
    print(f"{registry.suspend(args.institution_id).id} suspended")
    return 0


def _reinstate(args: argparse.Namespace) -> int:
    registry, _ = _registry(load_settings(Path(args.config)))
    print(f"{registry.reinstate(args.institution_id).id} reinstated")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    registry, _ = _registry(load_settings(Path(args.config)))
    key = registry.rotate_key(args.institution_id, now=datetime.now(UTC))
    print(json.dumps({"institution_id": args.institution_id, "api_key": key.token}))
    print("earlier keys of this institution are revoked", file=sys.stderr)
    return 0


def _agreement(args: argparse.Namespace) -> int:
    _, agreements = _registry(load_settings(Path(args.config)))
    agreement = agreements.record(args.institution_id, scopes=args.scope, reference=args.reference,
                                  not_before=_time(args.not_before), not_after=_time(args.not_after),
                                  now=datetime.now(UTC))
    print(json.dumps({"agreement_id": agreement.id, "scopes": sorted(agreement.scopes),
                      "not_after": format_time(agreement.not_after)}))
    return 0


def serve(settings: ApiSettings, *, scorer: Scorer, public_records: PublicRecordSource) -> int:
    """Serve the API in the foreground until SIGINT/SIGTERM (then exit 0), with the periodic jobs if configured."""
    from federation.process_heap import settle_heap
    from platform_node.api.app import create_app
    from platform_node.api.server import ApiServer
    from platform_node.api.services import build_services

    services = build_services(settings, scorer=scorer, public_records=public_records,
                              secrets=platform_secrets(settings))
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = ApiServer(create_app(services), host=settings.host, port=settings.port, log_level="info",
                       max_head_bytes=settings.max_request_head_bytes, head_timeout_s=settings.request_head_timeout_s)
    try:
        url = server.start()
        settle_heap()
        log.info("API serving", extra={"url": url})
        if settings.run_ticker:
            services.start_ticker()
        stop.wait()
    finally:
        server.stop()
        services.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from platform_node.reports.public_records import InMemoryPublicRecords, load_public_records
    from platform_node.scoring.local_scorecard import load_local_scorer

    settings = load_settings(Path(args.config))
    if settings.scorer_model_file is None:
        print("error: no scorer configured: set [api] scorer_model_file (local scorecard) or start the API "
              "through the platform node, which wires the federated scorer", file=sys.stderr)
        return 2
    scorer = load_local_scorer(settings.scorer_model_file, policy=settings.partial_failure_policy)
    records = (load_public_records(settings.public_records_file) if settings.public_records_file
               else InMemoryPublicRecords())
    return serve(settings, scorer=scorer, public_records=records)


def _guarded(func):
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (ApiSettingsError, InstitutionError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m platform_node.api.cli ...`) until the lead wires `register` into `xyd`."""
    parser = argparse.ArgumentParser(prog="xyd")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
