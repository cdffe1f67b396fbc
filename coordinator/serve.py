"""The coordinator process: registry, jobs and progress over mTLS gRPC, state in SQLite."""

from __future__ import annotations

import logging
import signal
import threading

from prometheus_client import REGISTRY

from coordinator.events import JobEventFeed
from coordinator.governance import GovernanceDesk
from coordinator.jobs.arbiter import ArbiterHost
from coordinator.jobs.control import JobControl
from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import JobStore
from coordinator.metrics import JobStoreCollector
from coordinator.model_registry import ModelRegistry
from coordinator.registry import NodeRegistry
from coordinator.service import CoordinatorServicer
from federation.config import NodeConfig
from federation.grpc_channel import PeerChannels
from federation.metrics import Readiness
from federation.node_process import (
    load_limits,
    load_tls,
    start_metrics,
    warn_if_unreachable,
    write_atomically,
)
from federation.pki import Identity
from federation.proto import control_pb2_grpc
from federation.server import HEALTH_CHECK_METHOD, NodeServer
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
    interrupted = store.mark_interrupted()
    if interrupted:
        log.warning("jobs interrupted by a restart: resumed once every party answers",
                    extra={"jobs": ",".join(interrupted)})
    registry = NodeRegistry(store.engine)
    feed = JobEventFeed()
    channels = PeerChannels(tls)
    jobs = config.section("jobs")
    stage_timeout = float(jobs.get("stage_timeout_seconds", 3600))
    # Its own certificate may ask the health service only (`xyd health`, the container's health check).
    server = NodeServer(tls, bind=config.listen, advertise=config.advertise,
                        allowed_roles={"platform", "source", "admin"},
                        limited_roles={"coordinator": {HEALTH_CHECK_METHOD}}, limits=load_limits(config))
    # The coordinator is the hetero-LR arbiter: its mailboxes on this server carry the arbiter's messages.
    arbiter = ArbiterHost(tls, server, policy=ArbiterPolicy(allow_plaintext=config.policy.allow_plaintext_training),
                          state_dir=config.state_dir)
    models = ModelRegistry(store.engine)
    governance = GovernanceDesk.at(config.state_dir, registry, tls)
    runner = JobRunner(store, registry, lambda address, party: channels.get(address, Identity.parse(party)),
                       feed.publish, stage_timeout=stage_timeout, models=models,
                       arbiter=arbiter, resume_wait=float(jobs.get("resume_wait_seconds", 600)),
                       max_resumes=int(jobs.get("max_resumes", 3)), on_stage_done=governance.stage_done)
    control = JobControl(store, runner, on_start=feed.reopen, on_end=feed.close)
    server.add_servicer(control_pb2_grpc.add_CoordinatorServicer_to_server,
                        CoordinatorServicer(store, registry, runner, feed, models, control, governance),
                        roles={"platform", "source", "admin"})
    readiness = Readiness()
    serving = readiness.flag("serving")
    readiness.add("store", lambda: store.list(limit=1) is not None)
    collector = JobStoreCollector(store)
    REGISTRY.register(collector)
    metrics = start_metrics(config, readiness)
    try:
        server.start()
    except BaseException:
        if metrics is not None:
            metrics.stop()
        REGISTRY.unregister(collector)
        raise
    serving.set()
    write_atomically(config.state_dir / "address", server.address)
    log.info("coordinator serving", extra={"address": server.address, "advertised": server.advertised_address})
    warn_if_unreachable(server)
    governance.start()
    control.watch_interrupted(stop, every=float(jobs.get("resume_poll_seconds", 2)))
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        serving.clear()
        server.stop(grace=2.0)
        governance.close()
        channels.close()
        arbiter.close()
        if metrics is not None:
            metrics.stop()
        REGISTRY.unregister(collector)
    return 0
