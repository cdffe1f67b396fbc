"""Mailboxes exist only for running stages: who may push, how much, and how a sender waits for a stage to open."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from federation.call_limits import CallLimits
from federation.channel import Mailbox, PeerUnavailable
from federation.chunking import DEFAULT_MAX_MESSAGE_BYTES, Reassembly, frame_header
from federation.grpc_channel import GrpcChannel, open_secure_channel
from federation.job_ids import InvalidJobId
from federation.mailbox_service import JobClosed, MailboxRouter, MessageRefused, SessionNotOpen
from federation.pki import CertificateAuthority, Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc, transport_pb2
from federation.server import NodeServer
from federation.tasks import NodeServicer, TaskContext

TAX, PLATFORM, COURT = Identity("source", "tax"), Identity("platform", "main"), Identity("source", "court")
COORDINATOR = Identity("coordinator", "main")
MIB = 1 << 20


def test_reassembly_holds_what_arrived_not_what_was_announced() -> None:
    header = frame_header("j", "t", b"", push_id=b"")
    header.total_bytes = 1 << 30
    tracemalloc.start()
    try:
        assembly = Reassembly(header)
        assembly.add(bytes(64 << 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert assembly.received == 64 << 10
    assert peak < 4 * MIB, f"{peak} bytes traced for 64 KiB received"


def test_a_session_admits_its_parties_only_within_its_ceiling() -> None:
    router = MailboxRouter(max_message_bytes=64 * MIB)
    box = router.open("job-1.psi", {"source/court"}, max_message_bytes=8 * MIB)
    assert router.admit("job-1.psi", "source/court", 8 * MIB) == 8 * MIB
    with pytest.raises(MessageRefused, match="limit") as over:
        router.admit("job-1.psi", "source/court", 8 * MIB + 1)
    assert not over.value.retry_later
    # A peer outside the session gets the same answer as for a job that does not run here.
    for session, sender in (("job-1.psi", "source/ip"), ("job-2.psi", "source/court")):
        with pytest.raises(SessionNotOpen) as refused:
            router.admit(session, sender, 1)
        assert str(refused.value) == "no stage of this job with you as a party runs on this node"
    router.deliver("job-1.psi", "source/court", "a", bytes(8 * MIB))
    router.deliver("job-1.psi", "source/court", "b", bytes(8 * MIB))
    assert box.unread_bytes("source/court") == 16 * MIB
    box.take("source/court", "a", timeout=1)
    assert box.unread_bytes("source/court") == 8 * MIB
    router.close_job("job-1.psi")
    router.close_job("job-1.psi")  # the stage's end and the call's end both close it
    with pytest.raises(JobClosed):
        router.admit("job-1.psi", "source/court", 1)
    with pytest.raises(SessionNotOpen):
        router.admit("job-1.psi", "source/ip", 1)
    with pytest.raises(JobClosed):
        router.open("job-1.psi", {"source/court"})


def test_unread_bytes_of_one_sender_are_capped_at_twice_the_ceiling() -> None:
    router = MailboxRouter(max_message_bytes=64 * MIB, max_unread_bytes=100 * MIB)
    box = router.open("job-1.psi", {"source/court", "source/ip"}, max_message_bytes=8 * MIB)
    router.deliver("job-1.psi", "source/court", "a", bytes(8 * MIB))
    router.deliver("job-1.psi", "source/court", "b", bytes(8 * MIB))
    with pytest.raises(MessageRefused, match="unread") as full:
        router.admit("job-1.psi", "source/court", 1)
    assert full.value.retry_later
    assert router.admit("job-1.psi", "source/ip", 8 * MIB) == 8 * MIB  # a quota per sender
    box.take("source/court", "a", timeout=1)
    assert router.admit("job-1.psi", "source/court", 8 * MIB) == 8 * MIB  # reading frees it
    wide = MailboxRouter(max_message_bytes=64 * MIB, max_unread_bytes=100 * MIB)
    wide.open("job-2.psi", {"source/court"}, max_message_bytes=64 * MIB)
    wide.deliver("job-2.psi", "source/court", "a", bytes(64 * MIB))
    with pytest.raises(MessageRefused, match="unread"):  # the node's cap, below twice this job's ceiling
        wide.admit("job-2.psi", "source/court", 64 * MIB)


def test_a_job_cannot_raise_the_nodes_ceiling_and_ids_are_checked() -> None:
    router = MailboxRouter(max_message_bytes=64 * MIB)
    with pytest.raises(ValueError, match="outside"):
        router.open("job-1.psi", {"source/court"}, max_message_bytes=65 * MIB)
    with pytest.raises(InvalidJobId):
        router.open("../job-1.psi", {"source/court"})
    router.open("job-2.psi", {"source/court"})
    assert router.admit("job-2.psi", "source/court", 64 * MIB) == 64 * MIB  # the default, capped by the node
    default = MailboxRouter()
    default.open("job-3.psi", {"source/court"})
    assert default.admit("job-3.psi", "source/court", 1) == DEFAULT_MAX_MESSAGE_BYTES


# ---- over gRPC -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    for identity in (TAX, PLATFORM, COURT, COORDINATOR):
        ca.issue(identity)
    return ca


@pytest.fixture(scope="module")
def tax_server(ca: CertificateAuthority) -> Iterator[NodeServer]:
    server = NodeServer(NodeTls.load_issued(ca.directory, TAX))
    server.start()
    yield server
    server.stop(0)


def _channel(ca: CertificateAuthority, me: Identity, session: str, server: NodeServer, **kwargs) -> GrpcChannel:
    return GrpcChannel(me.party, session, {TAX.party: server.address}, NodeTls.load_issued(ca.directory, me),
                       kwargs.pop("mailbox", Mailbox()), **kwargs)


def test_a_sender_waits_for_the_peer_to_open_its_stage(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    opener = threading.Timer(0.3, lambda: tax_server.mailboxes.open("job-late.psi", {PLATFORM.party}))
    opener.start()
    try:
        with _channel(ca, PLATFORM, "job-late.psi", tax_server) as channel:
            channel.send(TAX.party, "hello", transport_pb2.Frame(chunk=b"late"))
    finally:
        opener.join()
    payload = tax_server.mailboxes.for_job("job-late.psi").take(PLATFORM.party, "hello", timeout=1)
    assert transport_pb2.Frame.FromString(payload).chunk == b"late"


def test_a_sender_gives_up_on_a_stage_that_never_opens(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    started = time.monotonic()
    with pytest.raises(PeerUnavailable, match="not open at the peer"), \
            _channel(ca, PLATFORM, "job-never.psi", tax_server, open_wait=0.5) as channel:
        channel.send(TAX.party, "hello", transport_pb2.Frame())
    assert time.monotonic() - started < 3.0
    # ... and stops waiting at once when its own stage ends.
    own = Mailbox()
    threading.Timer(0.2, own.close).start()
    started = time.monotonic()
    with pytest.raises(PeerUnavailable, match="our stage ended"), \
            _channel(ca, PLATFORM, "job-never.psi", tax_server, mailbox=own) as channel:
        channel.send(TAX.party, "hello", transport_pb2.Frame())
    assert time.monotonic() - started < 3.0


def test_a_party_outside_the_stage_is_refused_like_an_unknown_job(ca: CertificateAuthority,
                                                                   tax_server: NodeServer) -> None:
    tax_server.mailboxes.open("job-parties.psi", {PLATFORM.party})
    with pytest.raises(PeerUnavailable, match="not open at the peer"), \
            _channel(ca, COURT, "job-parties.psi", tax_server, open_wait=0.3) as channel:
        channel.send(TAX.party, "t", transport_pb2.Frame())
    assert tax_server.mailboxes.for_job("job-parties.psi").pending() == 0


# ---- RunTask opens and closes the stage's session ------------------------------------------------


def _run_task(server: NodeServer, ca: CertificateAuthority, request: control_pb2.TaskRequest) -> list:
    channel = open_secure_channel(server.address, NodeTls.load_issued(ca.directory, COORDINATOR), TAX)
    try:
        return list(control_pb2_grpc.NodeStub(channel).RunTask(request, timeout=30))
    finally:
        channel.close()


def test_run_task_checks_the_job_and_opens_the_session_for_the_stage_only(ca: CertificateAuthority,
                                                                           tmp_path: Path) -> None:
    server = NodeServer(NodeTls.load_issued(ca.directory, TAX))
    seen: dict[str, object] = {}

    def handler(ctx: TaskContext) -> dict:
        session = f"{ctx.job_id}.{ctx.stage}"
        seen["admit"] = server.mailboxes.admit(session, PLATFORM.party, 1)
        with pytest.raises(SessionNotOpen):
            server.mailboxes.admit(session, COURT.party, 1)
        seen["work_dir"] = ctx.work_dir
        return {}

    def factory(session: str, peers: dict, ceiling: int) -> GrpcChannel:
        box = server.mailboxes.open(session, set(peers) - {TAX.party}, max_message_bytes=ceiling)
        return GrpcChannel(TAX.party, session, peers, server.tls, box)

    servicer = NodeServicer(describe=control_pb2.NodeDescription, handlers={"psi": handler}, channel_factory=factory,
                            state_dir=tmp_path / "state", caller_check=lambda context: None,
                            on_stage_done=server.mailboxes.close_job, max_message_bytes=64 * MIB)
    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, servicer, roles={"coordinator"})
    server.start()
    peers = [control_pb2.Peer(party=PLATFORM.party, address="127.0.0.1:1"),
             control_pb2.Peer(party=TAX.party, address=server.address)]
    try:
        done = _run_task(server, ca, control_pb2.TaskRequest(job_id="job-1", stage="psi", peers=peers,
                                                             params_json=json.dumps({}), max_message_bytes=8 * MIB))
        assert done[-1].WhichOneof("kind") == "result", done
        assert seen["admit"] == 8 * MIB and seen["work_dir"] == (tmp_path / "state" / "jobs" / "job-1").resolve()
        with pytest.raises(JobClosed):  # the stage ended: its session is closed
            server.mailboxes.admit("job-1.psi", PLATFORM.party, 1)
        over = _run_task(server, ca, control_pb2.TaskRequest(job_id="job-2", stage="psi", peers=peers,
                                                             max_message_bytes=65 * MIB))
        assert over[-1].error.code == "MESSAGE_LIMIT"
        for job_id, stage in (("../job-3", "psi"), ("job-3", "../psi"), ("/abs", "psi")):
            refused = _run_task(server, ca, control_pb2.TaskRequest(job_id=job_id, stage=stage, peers=peers))
            assert [e.error.code for e in refused] == ["BAD_JOB_ID"]
        bad_peer = _run_task(server, ca, control_pb2.TaskRequest(
            job_id="job-4", stage="psi", peers=[control_pb2.Peer(party="../x", address="a")]))
        assert [e.error.code for e in bad_peer] == ["BAD_PEERS"]
        assert sorted(p.name for p in (tmp_path / "state" / "jobs").iterdir()) == ["job-1"]
    finally:
        server.stop(0)


def test_deadlines_cut_a_stalled_push_on_a_real_server(ca: CertificateAuthority) -> None:
    """The stall watchdog on a live server (the process-level test is tests/integration/test_grpc_attacks.py)."""
    server = NodeServer(NodeTls.load_issued(ca.directory, TAX), limits=CallLimits(push_idle_s=0.5, request_s=0.5))
    server.mailboxes.open("job-stall.psi", {PLATFORM.party})
    server.start()
    release = threading.Event()
    header = transport_pb2.Frame(header=frame_header("job-stall.psi", "t", bytes(10), push_id=b"p"))

    def frames() -> Iterator[bytes]:
        yield header.SerializeToString()
        release.wait(10)

    channel = open_secure_channel(server.address, NodeTls.load_issued(ca.directory, PLATFORM), TAX)
    try:
        push = channel.stream_unary("/xyd.transport.Mailbox/Push", request_serializer=None,
                                    response_deserializer=None)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as cut:
            push(frames(), timeout=10)
        assert cut.value.code() == grpc.StatusCode.CANCELLED and time.monotonic() - started < 3.0
    finally:
        release.set()
        channel.close()
        server.stop(0)
