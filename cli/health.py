"""`xyd health --config node.toml`: is this node serving? The container image's health check.

The node's own certificate dials the address the node wrote to `<state_dir>/address` when it started serving
and asks the standard gRPC health service, over the same mutual TLS and revocation checks every peer meets;
exit 0 when it answers SERVING, 1 (with the reason on stderr) otherwise. `python -m cli.health` is the same
command (`xyd`'s own start-up is light too: its parser imports no role's libraries).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def check(config_path: Path, timeout: float) -> str | None:
    """None when the node serves, else why not (one line)."""
    import grpc  # loaded when the check runs: `xyd`'s parser imports this module
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from federation.config import load_node_config
    from federation.grpc_channel import open_secure_channel
    from federation.node_process import load_tls

    config = load_node_config(config_path)
    address_file = config.state_dir / "address"
    try:
        address = address_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return f"not serving yet: {address_file} does not exist"
    tls = load_tls(config)
    channel = open_secure_channel(address, tls, tls.identity)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        return f"{address}: {exc.code().name}: {exc.details()}"
    finally:
        channel.close()
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def _run(args: argparse.Namespace) -> int:
    problem = check(Path(args.config), args.timeout)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, help="the node's TOML file")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    parser.set_defaults(func=_run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd health`."""
    _arguments(subparsers.add_parser("health", help="exit 0 if this node's gRPC server answers SERVING"))


if __name__ == "__main__":
    sys.exit(_run(_arguments(argparse.ArgumentParser(prog="python -m cli.health")).parse_args()))
