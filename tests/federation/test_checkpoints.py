"""A party's checkpoints: atomic, verified, the last two kept; the Node service lists them, resumes a stage
from one (truncating later ones), refuses a unit it does not hold, replaces a stale attempt and removes a
job's folder. Over a real mTLS server, called with the coordinator's certificate."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from errors import InvalidInput
from federation.channel import PeerUnavailable
from federation.checkpoints import CheckpointDamaged, CheckpointStore, common_unit, job_folder
from federation.grpc_channel import GrpcChannel, PeerRefused, describe_failure, open_secure_channel
from federation.node_process import coordinator_only
from federation.pki import CertificateAuthority, Identity
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import NodeServer
from federation.tasks import NodeServicer, TaskContext, failure_of

TAX = Identity("source", "tax")
COORDINATOR = Identity("coordinator", "main")


def test_the_newest_two_units_are_kept_and_verified(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "train")
    for unit in (1, 2, 3):
        store.save(unit, f"state {unit}".encode())
    assert store.units() == [2, 3]
    assert store.load(3) == b"state 3"
    with pytest.raises(CheckpointDamaged, match="no checkpoint 1 .*held: \\[2, 3\\]"):
        store.load(1)
    path = store.folder / "000003.ckpt"
    path.write_bytes(path.read_bytes()[:-1] + b"X")  # one flipped byte
    with pytest.raises(CheckpointDamaged, match="damaged"):
        store.load(3)
    store.truncate(2)
    assert store.units() == [2]
    assert not list(store.folder.glob("*.tmp"))


@pytest.mark.parametrize("hostile", ["../etc", "a/b", "..", ".hidden", "", "x" * 101, "job\x00"])
def test_names_that_would_leave_the_state_folder_are_refused(tmp_path: Path, hostile: str) -> None:
    with pytest.raises(InvalidInput):
        job_folder(tmp_path, hostile)
    with pytest.raises(InvalidInput):
        CheckpointStore(tmp_path, hostile)


@given(st.lists(st.lists(st.integers(1, 8), max_size=4), min_size=1, max_size=4))
def test_the_common_unit_is_the_largest_every_party_holds(held: list[list[int]]) -> None:
    unit = common_unit(held)
    assert unit == 0 or all(unit in h for h in held)
    assert not any(u > unit and all(u in h for h in held) for u in range(1, 9))


def test_transport_failures_name_the_peer_and_say_what_kind_they_are() -> None:
    refused = PeerRefused("platform/main", "10.0.0.5:7100", grpc.StatusCode.UNAUTHENTICATED, "certificate revoked")
    assert failure_of(refused)[0::2] == ("PEER_REFUSED", "platform/main")
    lost = PeerUnavailable("platform/main", "10.0.0.5:7100", "connection refused after 5 attempt(s)")
    assert failure_of(lost) == ("PEER_UNAVAILABLE", str(lost), "platform/main")
    assert failure_of(RuntimeError("/secret/path"))[1] == "internal error (RuntimeError); see this node's log"


@pytest.mark.parametrize(("code", "details", "words"), [
    (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.5:7100: "
     "Failed to connect to remote host: Connection refused", "connection refused"),
    (grpc.StatusCode.UNAVAILABLE, "Socket closed", "connection lost"),
    (grpc.StatusCode.UNAVAILABLE, "Cancelling all calls", "the server shut down"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", "no answer in time"),
    (grpc.StatusCode.PERMISSION_DENIED, "REFUSED: no", "PERMISSION_DENIED: REFUSED: no"),
])
def test_link_failures_are_said_in_an_operators_words(code: grpc.StatusCode, details: str, words: str) -> None:
    assert describe_failure(code, details) == words


class _Units:
    """A handler that saves a checkpoint per unit from where it resumes to `last`, or blocks until closed."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, list[int]]] = []
        self.block = threading.Event()
        self.blocked = threading.Event()

    def __call__(self, ctx: TaskContext) -> Mapping[str, Any]:
        self.seen.append((ctx.attempt, ctx.resume_from, ctx.checkpoints.units()))
        if self.block.is_set():
            self.block.clear()
            self.blocked.set()
            ctx.channel.recv("source/tax", "never", control_pb2.Progress, timeout=30)
        for unit in range(ctx.resume_from + 1, 4):
            ctx.checkpoints.save(unit, f"unit {unit}".encode())
        return {"units": 3 - ctx.resume_from}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[control_pb2_grpc.NodeStub, _Units, Path]]:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    state = tmp_path_factory.mktemp("state")
    tls = ca.issue(TAX)
    server = NodeServer(tls)
    handler = _Units()

    def channel_factory(session: str, peers: Mapping[str, str], max_message_bytes: int) -> GrpcChannel:
        mailbox = server.mailboxes.open(session, set(peers) - {TAX.party}, max_message_bytes=max_message_bytes)
        return GrpcChannel(TAX.party, session, dict(peers), tls, mailbox)

    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, NodeServicer(
        describe=control_pb2.NodeDescription, handlers={"train": handler}, channel_factory=channel_factory,
        state_dir=state, caller_check=coordinator_only, on_stage_done=server.mailboxes.close_job))
    server.start()
    channel = open_secure_channel(server.address, ca.issue(COORDINATOR), TAX)
    yield control_pb2_grpc.NodeStub(channel), handler, state
    channel.close()
    server.stop()


def _run(stub: control_pb2_grpc.NodeStub, job: str, **fields: int) -> control_pb2.TaskEvent:
    return list(stub.RunTask(control_pb2.TaskRequest(job_id=job, stage="train", **fields), timeout=30))[-1]


def test_a_stage_resumes_from_a_held_unit_and_refuses_one_it_does_not_hold(node) -> None:
    stub, handler, state = node
    assert _run(stub, "job-a").WhichOneof("kind") == "result"
    held = stub.Checkpoints(control_pb2.CheckpointQuery(job_id="job-a", stage="train"), timeout=10).units
    assert list(held) == [2, 3]
    event = _run(stub, "job-a", attempt=1, resume_from=2)
    assert event.result.summary_json == '{"units": 1}'
    assert handler.seen[-1] == (1, 2, [2])  # unit 3 was dropped before the handler ran: it writes it again
    refused = _run(stub, "job-a", attempt=2, resume_from=1)
    assert (refused.error.code, "no checkpoint 1") == ("NO_CHECKPOINT", refused.error.message[:15])
    (state / "jobs" / "job-a" / "checkpoints" / "train" / "000003.ckpt").write_bytes(b"garbage")
    damaged = _run(stub, "job-a", attempt=3, resume_from=3)
    assert damaged.error.code == "NO_CHECKPOINT" and "damaged" in damaged.error.message


def test_a_new_attempt_replaces_one_still_running_here(node) -> None:
    stub, handler, _ = node
    handler.block.set()
    outcome: list[control_pb2.TaskEvent] = []
    stale = threading.Thread(target=lambda: outcome.append(_run(stub, "job-b")))
    stale.start()
    assert handler.blocked.wait(30)  # the stale attempt waits on a peer, in its own mailbox
    assert _run(stub, "job-b", attempt=1).WhichOneof("kind") == "result"
    stale.join(30)
    assert outcome[0].error.code == "STAGE_CLOSED"


def test_cleanup_removes_the_job_folder_and_hostile_ids_are_refused(node) -> None:
    stub, _, state = node
    _run(stub, "job-c")
    reply = stub.CleanupJob(control_pb2.CleanupRequest(job_id="job-c"), timeout=30)
    assert reply.files_removed == 2 and reply.bytes_removed > 0
    assert not (state / "jobs" / "job-c").exists()
    for hostile in ("../../etc", "job-c/../../x"):
        with pytest.raises(grpc.RpcError) as refused:
            stub.CleanupJob(control_pb2.CleanupRequest(job_id=hostile), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
