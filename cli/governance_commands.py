"""`xyd approval` and `xyd catalogue`: data governance for the operator (through the coordinator, admin
certificate) and for a source unit's administrator (on its own node's admin endpoint, with the unit's
approval key)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _passphrase(args: argparse.Namespace) -> bytes | None:
    if getattr(args, "passphrase_file", None):
        return Path(args.passphrase_file).read_text(encoding="utf-8").splitlines()[0].encode()
    value = os.environ.get("XYD_APPROVAL_PASSPHRASE")
    return value.encode() if value else None


def _admin(args: argparse.Namespace):
    """The admin client: `--admin` is the endpoint's URL or the node's state folder (which holds admin_url)."""
    from cli.source_admin_client import AdminClient
    from consent.governance import load_approval_private_key

    target = args.admin or os.environ.get("XYD_ADMIN_URL", "")
    key_path = args.key or os.environ.get("XYD_APPROVAL_KEY", "")
    if not target or not key_path:
        raise SystemExit(_fail("--admin (or XYD_ADMIN_URL) and --key (or XYD_APPROVAL_KEY) are required"))
    if not target.startswith("http"):
        target = (Path(target) / "admin_url").read_text(encoding="utf-8").strip()
    return AdminClient(target, load_approval_private_key(Path(key_path), passphrase=_passphrase(args)))


def _operator(args: argparse.Namespace):
    from cli.operator_client import CoordinatorClient, OperatorConfig

    config = OperatorConfig.load(Path(args.operator))
    return CoordinatorClient(config), config.tls.identity.party


def _print(value: Any) -> None:
    print(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False))


# ---- the approval key and the operator's side -------------------------------------------------------

def _keygen(args: argparse.Namespace) -> int:
    from consent.governance import ApprovalKeyError, approval_key_id, create_approval_key

    out = Path(args.out)
    try:
        key = create_approval_key(out.with_suffix(".key"), out.with_suffix(".pub"), passphrase=_passphrase(args))
    except ApprovalKeyError as exc:
        return _fail(str(exc))
    print(f"private key {out.with_suffix('.key')} (keep it with the unit's administrator, never on the node)")
    print(f"public key  {out.with_suffix('.pub')} (the node's [governance] approval_key), id "
          f"{approval_key_id(key.public_key())}")
    if not _passphrase(args):
        print("warning: the private key is stored in clear; use --passphrase-file", file=sys.stderr)
    return 0


def read_terms_file(path: Path, requested_by: str) -> dict[str, Any]:
    """A request file (TOML or JSON) as approval terms; `requested_by` defaults to the filer's identity."""
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    raw.setdefault("requested_by", requested_by)
    return raw


def _request(args: argparse.Namespace) -> int:
    from consent.canonical_json import canonical_json
    from consent.governance import ApprovalTerms, GovernanceError

    client, me = _operator(args)
    with client:
        try:
            terms = ApprovalTerms.from_json(read_terms_file(Path(args.file), me))
        except (GovernanceError, ValueError, tomllib.TOMLDecodeError) as exc:
            return _fail(f"{args.file}: {exc}")
        info = client.file_approval(canonical_json(terms.to_json()).decode())
    print(f"filed {info.approval_id} for {info.source} (project {info.project}): {info.status}")
    return 0


def _status(args: argparse.Namespace) -> int:
    client, _ = _operator(args)
    with client:
        for a in client.approvals(source=args.source or "", project=args.project or "", status=args.status or ""):
            print(f"{a.approval_id}  {a.source:<24} {a.project:<20} {a.status:<10} {a.reason}")
    return 0


# ---- the source unit's administrator, on its own node ---------------------------------------------

def _list(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        for a in admin.approvals(args.status):
            print(f"{a['approval_id']}  {a['status']:<10} {a['project']:<20} {a['purpose']:<18} "
                  f"items: {', '.join(a['items'])}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        _print(admin.show(args.approval_id))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from cli.source_admin_client import AdminError

    with _admin(args) as admin:
        try:
            shown = admin.show(args.approval_id)
            if shown["not_shared_in_request"]:
                print(f"note: never usable, not_shared: {', '.join(shown['not_shared_in_request'])}")
            result = admin.approve(args.approval_id)
        except AdminError as exc:
            return _fail(str(exc))
    print(f"{result['approval_id']}: {result['status']}")
    return 0


def _move(args: argparse.Namespace) -> int:
    from cli.source_admin_client import AdminError

    with _admin(args) as admin:
        try:
            result = admin.move(args.approval_id, args.action, args.reason)
        except AdminError as exc:
            return _fail(str(exc))
    print(f"{result['approval_id']}: {result['status']}")
    return 0


# ---- the catalogue -------------------------------------------------------------------------------

def _catalogue_show(args: argparse.Namespace) -> int:
    from consent.governance import CityCatalogue

    client, _ = _operator(args)
    with client:
        version = client.catalogue(args.version)
    city = CityCatalogue.from_json(json.loads(version.catalogue_json))
    if args.format == "json":
        _print({"version": version.version, "sha256": version.sha256, **city.to_json()})
        return 0
    print(f"city-wide list version {version.version} of {version.latest} ({version.cause})")
    for catalogue in city.catalogues:
        for item in catalogue.items:
            print(f"{catalogue.source:<24} {item.name:<28} {item.category:<18} {item.condition.value:<13} "
                  f"{item.update_frequency.value:<9} {item.unit:<5} {item.description}")
    return 0


def _catalogue_diff(args: argparse.Namespace) -> int:
    from consent.governance import CityCatalogue, diff_catalogues

    client, _ = _operator(args)
    with client:
        old, new = client.catalogue(args.old), client.catalogue(args.new)
    diff = diff_catalogues(CityCatalogue.from_json(json.loads(old.catalogue_json)),
                           CityCatalogue.from_json(json.loads(new.catalogue_json)))
    if args.format == "json":
        _print(diff.to_json())
    else:
        print(f"version {old.version} -> {new.version}")
        for line in diff.lines():
            print(line)
    return 0


def _expansion_request(args: argparse.Namespace) -> int:
    from federation.proto import control_pb2

    client, _ = _operator(args)
    with client:
        filed = client.file_expansion(control_pb2.ExpansionFiling(
            source=args.source, item=args.item, category=args.category, description=args.what, reason=args.why,
            intended_use=args.use))
    print(f"filed {filed.request_id}: {filed.source} asked to share {filed.item}")
    return 0


def _expansions(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        for e in admin.expansions():
            print(f"{e['request_id']}  {e['status']:<9} {e['item']:<24} by {e['requested_by']}: {e['description']} "
                  f"(why: {e['reason']}; use: {e['intended_use']})")
    return 0


def _decide(args: argparse.Namespace) -> int:
    from cli.source_admin_client import AdminError

    item = None
    if args.decision == "accept":
        item = {k: v for k, v in {"condition": args.condition, "description": args.description, "unit": args.unit,
                                  "update_frequency": args.frequency, "sensitivity": args.sensitivity}.items()
                if v is not None}
    with _admin(args) as admin:
        try:
            result = admin.decide_expansion(args.request_id, accept=args.decision == "accept", reason=args.reason,
                                            item=item)
        except AdminError as exc:
            return _fail(str(exc))
    print(f"{result['request_id']}: {result['status']}")
    return 0


def _admin_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin", default=None, help="the node's admin URL, or its state folder (XYD_ADMIN_URL)")
    parser.add_argument("--key", default=None, help="the unit's approval private key (XYD_APPROVAL_KEY)")
    parser.add_argument("--passphrase-file", default=None, help="its passphrase (or XYD_APPROVAL_PASSPHRASE)")


def source_usage(args: argparse.Namespace) -> int:
    """`xyd source usage`: the unit's usage report, from its own node's admin endpoint (signed with the unit's approval key)."""
    import csv
    import json
    import os
    import sys

    from cli.source_admin_client import AdminClient, AdminError
    from consent.governance import load_approval_private_key
    from consent.governance.usage_report import UsageReport

    target = args.admin or os.environ.get("XYD_ADMIN_URL", "")
    key_path = args.key or os.environ.get("XYD_APPROVAL_KEY", "")
    if not target or not key_path:
        print("error: --admin (or XYD_ADMIN_URL) and --key (or XYD_APPROVAL_KEY) are required", file=sys.stderr)
        return 2
    if not target.startswith("http"):
        target = (Path(target) / "admin_url").read_text(encoding="utf-8").strip()
    passphrase = Path(args.passphrase_file).read_text().splitlines()[0].encode() if args.passphrase_file else None
    with AdminClient(target, load_approval_private_key(Path(key_path), passphrase=passphrase)) as admin:
        try:
            report = admin.usage(args.start, args.end)
        except AdminError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.format == "csv":
        csv.writer(sys.stdout).writerows(UsageReport.rows_of(report))
    else:
        print(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False))
    return 0 if report["verified"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `approval` and `catalogue` to the `xyd` parser."""
    approval = subparsers.add_parser("approval", help="data-use approvals (operator and source administrator)")
    sub = approval.add_subparsers(dest="approval_command", metavar="ACTION")
    sub.required = True
    keygen = sub.add_parser("keygen", help="create a source unit's approval key (administrator)")
    keygen.add_argument("--out", required=True, help="path without suffix: writes OUT.key and OUT.pub")
    keygen.add_argument("--passphrase-file", default=None)
    keygen.set_defaults(func=_keygen)
    request = sub.add_parser("request", help="file an approval request with the coordinator (operator)")
    request.add_argument("file", help="the terms (TOML or JSON)")
    request.add_argument("--operator", required=True)
    request.set_defaults(func=_request)
    status = sub.add_parser("status", help="statuses as the coordinator sees them (operator)")
    status.add_argument("--operator", required=True)
    status.add_argument("--source", default=None)
    status.add_argument("--project", default=None)
    status.add_argument("--status", default=None)
    status.set_defaults(func=_status)
    listing = sub.add_parser("list", help="requests and approvals on this unit's node (administrator)")
    listing.add_argument("--status", default=None)
    _admin_args(listing)
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="one approval: terms, history, quota used (administrator)")
    show.add_argument("approval_id")
    _admin_args(show)
    show.set_defaults(func=_show)
    approve = sub.add_parser("approve", help="sign a request with the unit's key (administrator)")
    approve.add_argument("approval_id")
    _admin_args(approve)
    approve.set_defaults(func=_approve)
    for action in ("decline", "suspend", "resume", "revoke"):
        move = sub.add_parser(action, help=f"{action} an approval (administrator)")
        move.add_argument("approval_id")
        move.add_argument("--reason", required=True)
        _admin_args(move)
        move.set_defaults(func=_move, action=action)

    catalogue = subparsers.add_parser("catalogue", help="the city-wide list of data items and its expansion")
    csub = catalogue.add_subparsers(dest="catalogue_command", metavar="ACTION")
    csub.required = True
    show_c = csub.add_parser("show", help="a version of the city-wide list (operator)")
    show_c.add_argument("--version", type=int, default=0, help="0 (default): the latest")
    show_c.add_argument("--format", choices=("text", "json"), default="text")
    show_c.add_argument("--operator", required=True)
    show_c.set_defaults(func=_catalogue_show)
    diff = csub.add_parser("diff", help="what changed between two versions (operator)")
    diff.add_argument("old", type=int)
    diff.add_argument("new", type=int)
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument("--operator", required=True)
    diff.set_defaults(func=_catalogue_diff)
    expand = csub.add_parser("request-expansion", help="ask a unit to share a data item (operator)")
    for name in ("source", "item", "category", "what", "why", "use"):
        expand.add_argument(f"--{name}", required=True)
    expand.add_argument("--operator", required=True)
    expand.set_defaults(func=_expansion_request)
    listed = csub.add_parser("expansions", help="expansion requests to this unit (administrator)")
    _admin_args(listed)
    listed.set_defaults(func=_expansions)
    for decision in ("accept", "decline"):
        decide = csub.add_parser(decision, help=f"{decision} an expansion request (administrator)")
        decide.add_argument("request_id")
        decide.add_argument("--reason", required=True)
        if decision == "accept":
            decide.add_argument("--condition", required=True, choices=("unconditional", "conditional", "not_shared"))
            decide.add_argument("--description", default=None)
            decide.add_argument("--unit", default=None)
            decide.add_argument("--frequency", default=None, help="update frequency (monthly, ...)")
            decide.add_argument("--sensitivity", default=None, help="PUBLIC | TRADE_SECRET | PERSONAL")
        _admin_args(decide)
        decide.set_defaults(func=_decide, decision=decision)
