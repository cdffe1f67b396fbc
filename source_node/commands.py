"""Subcommands of the `xyd` CLI contributed by the source-node role."""

from __future__ import annotations

import argparse
from pathlib import Path


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
    from tables.cli import register as register_validate

    register_validate(sub)
