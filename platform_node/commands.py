"""Subcommands of the `xyd` CLI contributed by the platform role."""

from __future__ import annotations

import argparse
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from federation.config import load_node_config
    from federation.logs import configure_node_logging
    from platform_node.node import serve

    config = load_node_config(Path(args.config))
    configure_node_logging("platform", config)
    return serve(config)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd platform ...`."""
    platform = subparsers.add_parser("platform", help="the platform node")
    sub = platform.add_subparsers(dest="platform_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the platform node (mTLS gRPC) until SIGTERM")
    serve.add_argument("--config", required=True, help="node TOML file")
    serve.set_defaults(func=_serve)
    from platform_node.api.command_line import register as register_api

    register_api(subparsers)
