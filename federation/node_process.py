"""The life of a node process: serve mTLS gRPC, register with the coordinator, run tasks until told to stop.

Roles (source, platform) supply what they describe about themselves and their stage handlers; this module
knows nothing of what the roles do.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import grpc

from errors import Refused
from federation.call_limits import CallLimits
from federation.config import ConfigError, NodeConfig
from federation.grpc_channel import GrpcChannel, PeerChannels, open_secure_channel
from federation.metrics import MetricsListener, Readiness, parse_listen
from federation.pki import Identity, NodeTls
from federation.process_heap import settle_heap
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import NodeServer, peer_identity
from federation.tasks import Handler, NodeServicer

log = logging.getLogger("xyd.node")


def load_tls(config: NodeConfig) -> NodeTls:
    """The process's own certificate, key, CA and revocation list, as the config names them."""
    return NodeTls.load(config.tls.ca, config.tls.cert, config.tls.key, config.tls.crl)


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_limits(config: NodeConfig) -> CallLimits:
    """The node server's limits from `[limits]` (docs/protocols/transport.md lists the keys and defaults)."""
    try:
        return CallLimits.from_section(config.section("limits"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{config.source}: {exc}") from exc


def coordinator_only(context: grpc.ServicerContext) -> None:
    """Control calls on a node are accepted from the coordinator's certificate only."""
    identity = peer_identity(context)
    if identity.role != "coordinator":
        raise Refused(f"{identity.party} is not the coordinator")


def start_metrics(config: NodeConfig, readiness: Readiness) -> MetricsListener | None:
    """The node's `/metrics`, `/healthz` and `/readyz` listener if `[metrics] listen` is set (its bound address
    is written to `<state_dir>/metrics_address`), else None."""
    where = parse_listen(config.section("metrics"), f"{config.source}: [metrics]")
    if where is None:
        return None
    listener = MetricsListener(*where, readiness)
    write_atomically(config.state_dir / "metrics_address", listener.start())
    return listener


def register_with_coordinator(tls: NodeTls, coordinator: str, address: str,
                              description: control_pb2.NodeDescription, *, attempts: int = 30,
                              stop: threading.Event | None = None) -> None:
    """Announce this node's address and schema, retrying while the coordinator starts up."""
    channel = open_secure_channel(coordinator, tls, Identity("coordinator", "main"))
    stub = control_pb2_grpc.CoordinatorStub(channel)
    delay = 0.2
    try:
        for attempt in range(1, attempts + 1):
            try:
                reply = stub.Register(control_pb2.RegisterRequest(address=address, description=description),
                                      timeout=5.0)
                log.info("registered with coordinator", extra={"as": reply.party, "coordinator": coordinator})
                return
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED) \
                        or attempt == attempts:
                    raise RuntimeError(f"cannot register with coordinator at {coordinator}: "
                                       f"{exc.code().name}: {exc.details()}") from exc
                if stop is not None and stop.wait(delay):
                    return
                time.sleep(0 if stop is not None else delay)
                delay = min(delay * 2, 2.0)
    finally:
        channel.close()


def warn_if_unreachable(server: NodeServer) -> None:
    """A node bound to every interface without `advertise` announces 127.0.0.1: peers elsewhere cannot dial it."""
    if server.listens_on_all_interfaces and server.advertised_address == server.address:
        log.warning("listening on all interfaces but announcing a loopback address; set [node] advertise "
                    "(or XYD_ADVERTISE) to the host:port peers on other hosts dial",
                    extra={"address": server.address})


def run_node(config: NodeConfig, *, describe: Callable[[], control_pb2.NodeDescription],
             handlers: Mapping[str, Handler], stop: threading.Event | None = None,
             attach: Callable[[NodeServer], None] | None = None,
             allowed_roles: set[str] | None = None,
             limited_roles: Mapping[str, Iterable[str]] | None = None,
             readiness: Readiness | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or `stop` is set); returns the process exit code.

    `attach(server)` lets a role add its own gRPC services (verification, registry) before the server starts;
    `limited_roles` admits further roles to the named methods only (see `PeerAdmission`);
    `readiness` carries the role's own readiness checks, to which this adds "serving" and "registered".
    """
    stop = stop or threading.Event()
    tls = load_tls(config)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    readiness = readiness or Readiness()
    serving, registered = readiness.flag("serving"), readiness.flag("registered")
    server = NodeServer(tls, bind=config.listen, advertise=config.advertise, limits=load_limits(config),
                        allowed_roles=allowed_roles or {"coordinator", "platform", "source"},
                        limited_roles=limited_roles)

    shared = PeerChannels(tls)

    def channel_factory(session: str, peers: Mapping[str, str], max_message_bytes: int) -> GrpcChannel:
        mailbox = server.mailboxes.open(session, set(peers) - {tls.identity.party},
                                        max_message_bytes=max_message_bytes)
        return GrpcChannel(tls.identity.party, session, dict(peers), tls, mailbox, channels=shared)

    servicer = NodeServicer(describe=describe, handlers=handlers, channel_factory=channel_factory,
                            state_dir=config.state_dir, caller_check=coordinator_only,
                            on_stage_done=server.mailboxes.close_job,
                            max_message_bytes=server.limits.max_message_bytes)
    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, servicer, roles={"coordinator"})
    if attach is not None:
        attach(server)
    metrics = start_metrics(config, readiness)
    try:
        server.start()
    except BaseException:
        if metrics is not None:
            metrics.stop()
        raise
    serving.set()
    write_atomically(config.state_dir / "address", server.address)
    log.info("node serving", extra={"as": tls.identity.party, "address": server.address,
                                    "advertised": server.advertised_address})
    warn_if_unreachable(server)
    if threading.current_thread() is threading.main_thread():  # this process is the node (not a test thread)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        settle_heap()
    try:
        if config.coordinator:
            register_with_coordinator(tls, config.coordinator, server.advertised_address, describe(), stop=stop)
        registered.set()
        stop.wait()
    finally:
        log.info("node stopping", extra={"as": tls.identity.party})
        serving.clear()
        server.stop(grace=2.0)
        shared.close()
        if metrics is not None:
            metrics.stop()
    return 0
