"""The coordinator process: registry, jobs and progress over mTLS gRPC, state in SQLite."""

from __future__ import annotations

import logging
import signal
import threading

from coordinator.events import JobEventFeed
from coordinator.governance import GovernanceDesk
from coordinator.jobs.arbiter import ArbiterHost
from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import JobStore
from coordinator.model_registry import ModelRegistry
from coordinator.registry import NodeRegistry
from coordinator.service import CoordinatorServicer
from federation.config import NodeConfig
from federation.grpc_channel import PeerChannels
from federation.node_process import load_tls, write_atomically
from federation.pki import Identity
from federation.proto import control_pb2_grpc
from federation.server import NodeServer
from models.hetero_lr import ArbiterPolicy

log = logging.getLogger("xyd.coordinator")


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    """Run the coordinator until SIGTERM/SIGINT or `stop`."""
    stop = stop or threading.Event()
    tls = load_tls(config)
    if tls.identity.role != "coordinator":
        raise SystemExit(f"the coordinator needs a coordinator certificate, got {tls.identity.party}")
    config.state_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore.sqlite(str(config.state_dir / "coordinator.db"))
    interrupted = store.fail_interrupted()
    if interrupted:
        log.warning("jobs interrupted by a restart marked failed", extra={"jobs": ",".join(interrupted)})
    registry = NodeRegistry(store.engine)
    feed = JobEventFeed()
    channels = PeerChannels(tls)
    stage_timeout = float(config.section("jobs").get("stage_timeout_seconds", 3600))
    server = NodeServer(tls, bind=config.listen, allowed_roles={"platform", "source", "admin"})
    # The coordinator is the hetero-LR arbiter: its mailboxes on this server carry the arbiter's messages.
    arbiter = ArbiterHost(tls, server, policy=ArbiterPolicy(
        allow_plaintext=bool(config.section("jobs").get("allow_plaintext_training", False))))
    models = ModelRegistry(store.engine)
    governance = GovernanceDesk.at(config.state_dir, registry, tls)
    runner = JobRunner(store, registry, lambda address, party: channels.get(address, Identity.parse(party)),
                       feed.publish, stage_timeout=stage_timeout, models=models,
                       arbiter=arbiter, on_stage_done=governance.stage_done)
    server.add_servicer(control_pb2_grpc.add_CoordinatorServicer_to_server,
                        CoordinatorServicer(store, registry, runner, feed, models, governance))
    server.start()
    write_atomically(config.state_dir / "address", server.address)
    log.info("coordinator serving", extra={"address": server.address})
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop(grace=2.0)
        channels.close()
        arbiter.close()
    return 0
