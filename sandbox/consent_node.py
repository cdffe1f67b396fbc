"""One node process of the verification world (`python -m sandbox.consent_node ROLE --config FILE`).

`source`: the lead's `run_node` with `source_node.verification.attach` as its attach hook (as
source_node/node.py will call it). `platform`: a NodeServer admitting banks and operators as well, with
`platform_node.consent_registry.attach`, and the bank/enterprise HTTP API when the config has an `[api]`
table (over the registry's engine and log, as in the platform node; no joint model is published here). Used
by the benchmark and the integration tests; no table loading on the platform side (the registry needs none).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from federation.config import load_node_config
from federation.logs import configure_node_logging
from federation.node_process import load_tls, run_node, write_atomically
from federation.proto import control_pb2
from federation.server import NodeServer


def serve_source(config_path: Path) -> int:
    from source_node.governance import open_governance
    from source_node.governance.admin_http import start_admin_endpoint
    from source_node.verification import OFFICER_METHODS, attach
    from tables.configured import load_configured_table

    config = load_node_config(config_path)
    tls = load_tls(config)
    configure_node_logging(tls.identity.party, config)
    table = load_configured_table(config)
    governance = open_governance(config, table, tls.identity.party)  # answers only under the unit's approval
    handles = [start_admin_endpoint(governance, tls=tls, coordinator=None, state_dir=config.state_dir,
                                    describe=control_pb2.NodeDescription)]
    code = run_node(config, describe=control_pb2.NodeDescription, handlers={},
                    attach=lambda server: handles.append(attach(server, config=config, table=table, tls=tls,
                                                                governance=governance)),
                    limited_roles={"admin": OFFICER_METHODS})
    for handle in handles:
        handle.close()
    governance.close()
    return code


class NoModelScorer:
    """The verification world publishes no joint model: every score request is MODEL_UNAVAILABLE."""

    def score(self, credit_codes, *, purpose: str, deadline_s: float):
        from platform_node.scoring.scorer import FailureCode, ScoreBatch, ScoreFailure

        return ScoreBatch(tuple(ScoreFailure(code, FailureCode.MODEL_UNAVAILABLE, "no joint model is published")
                                for code in credit_codes))


def serve_platform(config_path: Path) -> int:
    from platform_node.api.embedded import start_embedded_api
    from platform_node.consent_registry import attach, prepare
    from platform_node.node import open_consent_registry

    config = load_node_config(config_path)
    tls = load_tls(config)
    configure_node_logging(tls.identity.party, config)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = NodeServer(tls, bind=config.listen, allowed_roles={"platform", "source", "admin"})
    consent = prepare(config=config, tls=tls, registry=open_consent_registry(config, tls))
    api = start_embedded_api(config, scorer=NoModelScorer(), consent=consent) if "api" in config.raw else None
    attach(server, config=config, tls=tls, prepared=consent)
    server.start()
    write_atomically(config.state_dir / "address", server.address)
    try:
        stop.wait()
    finally:
        if api is not None:
            api()
        consent.close()
        server.stop(grace=1.0)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.consent_node")
    parser.add_argument("role", choices=("source", "platform"))
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    return serve_source(args.config) if args.role == "source" else serve_platform(args.config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
