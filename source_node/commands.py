"""Subcommands of the `xyd` CLI contributed by the source-node role."""

from __future__ import annotations

import argparse
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from federation.config import load_node_config
    from federation.logs import configure_logging
    from source_node.node import serve

    config = load_node_config(Path(args.config))
    configure_logging(args.party_hint or "source", config.log_level)
    return serve(config)


def _usage(args: argparse.Namespace) -> int:
    """The unit's usage report, from its own node's admin endpoint (signed with the unit's approval key)."""
    import csv
    import json
    import os
    import sys

    from consent.governance import load_approval_private_key
    from consent.governance.usage_report import UsageReport
    from source_node.governance.admin_client import AdminClient, AdminError

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
    """Add `xyd source ...`."""
    source = subparsers.add_parser("source", help="a data-source unit's node")
    sub = source.add_subparsers(dest="source_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the source node (mTLS gRPC) until SIGTERM")
    serve.add_argument("--config", required=True, help="node TOML file")
    serve.add_argument("--party-hint", default=None, help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)
    usage = sub.add_parser("usage", help="how this unit's data was used, verified against the governance log "
                                         "(the unit's administrator)")
    usage.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    usage.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    usage.add_argument("--format", choices=("json", "csv"), default="json")
    usage.add_argument("--admin", default=None, help="the node's admin URL or state folder (XYD_ADMIN_URL)")
    usage.add_argument("--key", default=None, help="the unit's approval private key (XYD_APPROVAL_KEY)")
    usage.add_argument("--passphrase-file", default=None)
    usage.set_defaults(func=_usage)
    from tables.cli import register as register_validate

    register_validate(sub)
