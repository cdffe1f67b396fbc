"""An attacker's toolkit against running node processes: victims in their own OS processes, forged mailbox
pushes, stalled streams, and a stage started with a coordinator's certificate.

Used by `test_grpc_attacks.py`; every helper bounds its waits, and `Victims` stops every process it started.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil

from federation.chunking import GRPC_MESSAGE_OPTIONS
from federation.grpc_channel import open_secure_channel
from federation.pki import CertificateAuthority, Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc, transport_pb2
from sandbox.processes import ProcessGroup, Supervised
from sandbox.synthdata import generate

TAX, PLATFORM, COURT = Identity("source", "tax"), Identity("platform", "main"), Identity("source", "court")
COORDINATOR, BANK, ADMIN = Identity("coordinator", "main"), Identity("bank", "icbc-sz"), Identity("admin", "op")
PUSH = "/xyd.transport.Mailbox/Push"
# Short stall deadlines for the victims, so the tests see stalled calls cut within seconds.
TEST_LIMITS = {"push_idle_s": 2, "request_s": 2}


@dataclass
class Victim:
    """One node process under attack."""

    identity: Identity
    member: Supervised
    address: str
    state_dir: Path

    @property
    def pid(self) -> int:
        return self.member.process.pid

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss


@dataclass
class Victims:
    """A source node and a platform node, each its own process, and certificates for every kind of attacker."""

    root: Path
    ca: CertificateAuthority
    source: Victim
    platform: Victim
    silent: dict[Identity, str]  # addresses of parties that take pushes and never answer (`SilentPeer`)

    def tls(self, identity: Identity) -> NodeTls:
        return NodeTls.load_issued(self.ca.directory, identity)

    def channel(self, victim: Victim, caller: Identity) -> grpc.Channel:
        return open_secure_channel(victim.address, self.tls(caller), victim.identity)


def _config(root: Path, ca: Path, identity: Identity, schema: Path, table: Path) -> Path:
    folder = root / f"{identity.role}-{identity.name}"
    node = ca / "nodes" / f"{identity.role}-{identity.name}"
    lines = ["[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{folder / "state"}"', "",
             "[tls]", f'ca = "{ca / "ca.pem"}"', f'cert = "{node / "cert.pem"}"', f'key = "{node / "key.pem"}"',
             f'crl = "{ca / "crl.pem"}"', "", "[data]", f'schema = "{schema}"', f'table = "{table}"', "",
             "[limits]", *(f"{k} = {v}" for k, v in TEST_LIMITS.items()), ""]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "node.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class SilentPeer:
    """A party that takes every push and never sends anything: a victim's stage with it as a party waits on
    it, so the stage (and its mailbox) stays open for the length of a test."""

    def __init__(self, tls: NodeTls) -> None:
        def push(frames: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
            return transport_pb2.PushAck(received_bytes=sum(len(f) for f in frames)).SerializeToString()

        handler = grpc.stream_unary_rpc_method_handler(push)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=list(GRPC_MESSAGE_OPTIONS))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("xyd.transport.Mailbox", {"Push": handler}),))
        credentials = grpc.ssl_server_credentials([(tls.key_pem, tls.cert_pem)], root_certificates=tls.ca_pem,
                                                  require_client_auth=True)
        self.address = f"127.0.0.1:{self._server.add_secure_port('127.0.0.1:0', credentials)}"
        self._server.start()

    def close(self) -> None:
        self._server.stop(0).wait()


@contextmanager
def running_victims(root: Path) -> Iterator[Victims]:
    """Start a source node and a platform node (no coordinator: they serve without registering)."""
    ca = CertificateAuthority.create(root / "pki")
    for identity in (TAX, PLATFORM, COURT, COORDINATOR, BANK, ADMIN):
        ca.issue(identity)
    data = root / "data"
    generate(60, 5, data)
    group = ProcessGroup(root / "logs")
    silent = {who: SilentPeer(NodeTls.load_issued(ca.directory, who)) for who in (PLATFORM, COURT)}
    try:
        victims = []
        for identity, unit in ((TAX, "tax"), (PLATFORM, "platform")):
            config = _config(root / "nodes", ca.directory, identity, data / f"{unit}.toml", data / f"{unit}.csv")
            member = group.start(identity.party, [identity.role, "serve", "--config", str(config)])
            state = config.parent / "state"
            address = group.wait_for_file(member, state / "address", 60)
            victims.append(Victim(identity, member, address, state))
        yield Victims(root, ca, victims[0], victims[1], {who: peer.address for who, peer in silent.items()})
    finally:
        group.stop_all()
        for peer in silent.values():
            peer.close()


# ---- forged pushes -------------------------------------------------------------------------------


def header_frame(session: str, announced: int, tag: str = "t") -> bytes:
    """A header frame announcing `announced` bytes (with a digest of nothing in particular)."""
    header = transport_pb2.FrameHeader(job_id=session, tag=tag, total_bytes=announced,
                                       sha256=hashlib.sha256(os.urandom(8)).digest(), push_id=os.urandom(16))
    return transport_pb2.Frame(header=header).SerializeToString()


def chunk_frame(size: int) -> bytes:
    return transport_pb2.Frame(chunk=bytes(size)).SerializeToString()


class StalledCall:
    """A client-streaming call that sends `frames` and then neither sends more nor closes, until `release`."""

    def __init__(self, channel: grpc.Channel, method: str, frames: list[bytes], *, timeout: float = 60.0) -> None:
        self._release = threading.Event()
        self.started = time.monotonic()
        multicallable = channel.stream_unary(method, request_serializer=None, response_deserializer=None)
        self.future = multicallable.future(self._frames(frames), timeout=timeout)

    def _frames(self, frames: list[bytes]) -> Iterator[bytes]:
        yield from frames
        self._release.wait()

    def outcome(self, timeout: float) -> tuple[grpc.StatusCode | None, float]:
        """The call's status once it ends (None if it is still open after `timeout`) and when it ended."""
        try:
            self.future.result(timeout=timeout)
            code = grpc.StatusCode.OK
        except grpc.FutureTimeoutError:
            return None, time.monotonic() - self.started
        except grpc.RpcError as err:
            code = err.code()
        return code, time.monotonic() - self.started

    def release(self) -> None:
        self.future.cancel()
        self._release.set()


@contextmanager
def stalled(channel: grpc.Channel, method: str, frames: list[bytes], count: int = 1) -> Iterator[list[StalledCall]]:
    """`count` stalled calls, cancelled on exit whatever happened."""
    calls: list[StalledCall] = []
    try:
        for _ in range(count):
            calls.append(StalledCall(channel, method, frames))
        yield calls
    finally:
        for call in calls:
            call.release()


def peak_growth(victim: Victim, seconds: float, baseline: int) -> int:
    """The largest RSS above `baseline` seen in `seconds` of polling the victim."""
    peak = baseline
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, victim.rss())
        time.sleep(0.05)
    return peak - baseline


# ---- a stage started as the coordinator ----------------------------------------------------------


def psi_params(active: str, passive: list[str]) -> str:
    return json.dumps({"active": active, "passive": passive, "active_learns": True, "passive_learns": True,
                       "job_name": "x"})


@contextmanager
def running_stage(victims: Victims, victim: Victim, job_id: str, peers: dict[str, str],
                  params_json: str) -> Iterator[grpc.Future]:
    """Start the psi stage of `job_id` on `victim` with the coordinator's certificate; yields once the stage
    runs (its first progress event arrived), cancels it on exit."""
    channel = victims.channel(victim, COORDINATOR)
    request = control_pb2.TaskRequest(job_id=job_id, stage="psi", params_json=params_json,
                                      peers=[control_pb2.Peer(party=p, address=a) for p, a in peers.items()])
    call = control_pb2_grpc.NodeStub(channel).RunTask(request, timeout=120)
    try:
        first = next(call)
        assert first.WhichOneof("kind") == "progress", first
        yield call
    finally:
        call.cancel()
        channel.close()


def first_event(victims: Victims, victim: Victim, request: control_pb2.TaskRequest,
                timeout: float = 30.0) -> control_pb2.TaskEvent:
    """The first event of a RunTask call made with the coordinator's certificate (the call is then cancelled)."""
    channel = victims.channel(victim, COORDINATOR)
    call = control_pb2_grpc.NodeStub(channel).RunTask(request, timeout=timeout)
    try:
        return next(call)
    finally:
        call.cancel()
        channel.close()
