"""Subcommands of the `xyd` CLI contributed by the source-node role."""

from __future__ import annotations

import argparse
from pathlib import Path

from federation.command_line import lazy_handler


def _serve(args: argparse.Namespace) -> int:
    from federation.config import load_node_config
    from federation.logs import configure_node_logging
    from source_node.node import serve

    config = load_node_config(Path(args.config))
    configure_node_logging(args.party_hint or "source", config)
    return serve(config)


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
    # The administrator's tool lives with the other people's tools (cli/); it loads when it runs.
    usage.set_defaults(func=lazy_handler("cli.governance_commands:source_usage"))
    from tables.cli import register as register_validate

    register_validate(sub)
