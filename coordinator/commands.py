"""The coordinator's subcommand of `xyd`: `xyd coordinator serve`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from coordinator.serve import serve
    from federation.config import load_node_config
    from federation.logs import configure_node_logging

    config = load_node_config(Path(args.config))
    configure_node_logging("coordinator/main", config)
    return serve(config)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `coordinator serve` to the `xyd` parser."""
    coord = subparsers.add_parser("coordinator", help="the coordinator process")
    sub = coord.add_subparsers(dest="coordinator_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the coordinator (mTLS gRPC) until SIGTERM")
    serve.add_argument("--config", required=True, help="node TOML file")
    serve.set_defaults(func=_serve)
