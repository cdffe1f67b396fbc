"""One node process of the verification world (`python -m sandbox.consent_node ROLE --config FILE`).

`source`: the lead's `run_node` with `source_node.verification.attach` as its attach hook (as
source_node/node.py will call it). `platform`: a NodeServer admitting banks and operators as well, with
`platform_node.consent_registry.attach`. Used by the benchmark and the integration tests; no table loading
on the platform side (the registry needs none).
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
    from source_node.verification import OFFICER_METHODS, attach
    from tables.configured import load_configured_table

    config = load_node_config(config_path)
    tls = load_tls(config)
    configure_node_logging(tls.identity.party, config)
    table = load_configured_table(config)
    handles = []
    code = run_node(config, describe=control_pb2.NodeDescription, handlers={},
                    attach=lambda server: handles.append(attach(server, config=config, table=table, tls=tls)),
                    limited_roles={"admin": OFFICER_METHODS})
    for handle in handles:
        handle.close()
    return code


def serve_platform(config_path: Path) -> int:
    from platform_node.consent_registry import attach

    config = load_node_config(config_path)
    tls = load_tls(config)
    configure_node_logging(tls.identity.party, config)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = NodeServer(tls, bind=config.listen, allowed_roles={"platform", "source", "bank", "admin"})
    handle = attach(server, config=config, tls=tls)
    server.start()
    write_atomically(config.state_dir / "address", server.address)
    try:
        stop.wait()
    finally:
        handle.close()
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
