"""Run job stages on a node: the `Node` control service that the coordinator calls.

A role registers one handler per stage name. For each `RunTask` call the host builds a `GrpcChannel`
to the job's peers, runs the handler in a worker thread and streams its progress back; the handler's
return value (aggregate figures only, never raw values) is the stage result.

A stage may run more than once (the coordinator resumes it after a party was lost): each run is an
attempt with its own mailboxes, starts from the checkpoint unit the coordinator chose, and replaces any
run of the same stage still winding down on this node. `Checkpoints` tells the coordinator which units
this node holds; `CleanupJob` removes a job's folder.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from errors import Conflict, XydError
from federation.channel import Channel, ChannelError, ChannelTimeout, MailboxClosed, PeerUnavailable
from federation.checkpoints import CheckpointDamaged, CheckpointStore
from federation.chunking import DEFAULT_MAX_MESSAGE_BYTES, HARD_MAX_MESSAGE_BYTES
from federation.grpc_channel import PeerRefused
from federation.job_ids import InvalidJobId, check_job_id, check_stage, job_dir, stage_session
from federation.pki import Identity, InvalidIdentity
from federation.proto import control_pb2, control_pb2_grpc

__all__ = ["ChannelFactory", "Handler", "NodeServicer", "TaskContext", "TaskFailed", "stage_session"]

log = logging.getLogger("xyd.tasks")


class TaskFailed(XydError):
    """A handler's refusal or failure with a stable code and a message written for the operator."""

    detail_is_public = True

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass
class TaskContext:
    """What a stage handler gets: its job, parameters, channel to the peers and a progress callback."""

    job_id: str
    stage: str
    params: Mapping[str, Any]
    channel: Channel
    peers: Mapping[str, str]
    work_dir: Path
    attempt: int = 0
    resume_from: int = 0      # checkpoint unit to continue from (0: the stage's start)
    _events: queue.Queue = field(repr=False, default_factory=queue.Queue)

    @property
    def checkpoints(self) -> CheckpointStore:
        """This party's checkpoints of this stage (save one per unit every party agreed on)."""
        return CheckpointStore(self.work_dir, self.stage)

    def progress(self, message: str, fraction: float = -1.0) -> None:
        """Report progress; it streams to the coordinator and from there to whoever watches the job."""
        self._events.put(control_pb2.TaskEvent(progress=control_pb2.Progress(message=message, fraction=fraction)))


Handler = Callable[[TaskContext], Mapping[str, Any]]
# (session, peers, the job's ceiling on one message in bytes) -> the stage's channel, its mailbox open
ChannelFactory = Callable[[str, Mapping[str, str], int], Channel]

# How long a new attempt of a stage waits for the previous one on this node to stop.
_REPLACE_WAIT_S = 30.0


@dataclass
class _Run:
    session: str
    worker: threading.Thread | None = None


def failure_of(exc: BaseException) -> tuple[str, str, str]:
    """(code, public message, peer named) of a stage handler's failure; transport codes say whether a peer
    could not be reached (PEER_UNAVAILABLE, PEER_TIMEOUT), refused us (PEER_REFUSED: a revoked or expired
    certificate) or the stage was closed under the handler (STAGE_CLOSED: cancelled)."""
    if isinstance(exc, PeerRefused):
        return "PEER_REFUSED", str(exc), exc.peer
    if isinstance(exc, PeerUnavailable):
        return "PEER_UNAVAILABLE", str(exc), exc.peer
    if isinstance(exc, ChannelTimeout):
        return "PEER_TIMEOUT", str(exc), exc.peer
    if isinstance(exc, MailboxClosed):
        return "STAGE_CLOSED", "the stage was closed on this node (cancelled or replaced)", ""
    if isinstance(exc, ChannelError):
        return "PEER_FAILURE", str(exc), ""
    if isinstance(exc, XydError):
        return exc.code, exc.public_message, ""
    # The detail stays in this node's log: an exception's text may carry internal state.
    return "INTERNAL", f"internal error ({type(exc).__name__}); see this node's log", ""


class NodeServicer(control_pb2_grpc.NodeServicer):
    """The control service of one node: `Describe` and `RunTask` (called by the coordinator only)."""

    def __init__(
        self,
        *,
        describe: Callable[[], control_pb2.NodeDescription],
        handlers: Mapping[str, Handler],
        channel_factory: ChannelFactory,
        state_dir: Path,
        caller_check: Callable[[grpc.ServicerContext], None],
        on_stage_done: Callable[[str], None] | None = None,
        max_message_bytes: int = HARD_MAX_MESSAGE_BYTES,
    ) -> None:
        self._describe = describe
        self._handlers = dict(handlers)
        self._channel_factory = channel_factory
        self._state_dir = state_dir
        self._caller_check = caller_check
        self._on_stage_done = on_stage_done
        self._max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], _Run] = {}

    def Describe(self, request: control_pb2.DescribeRequest, context: grpc.ServicerContext) -> control_pb2.NodeDescription:
        self._caller_check(context)
        return self._describe()

    def Checkpoints(self, request: control_pb2.CheckpointQuery,
                    context: grpc.ServicerContext) -> control_pb2.CheckpointList:
        self._caller_check(context)
        store = CheckpointStore(job_dir(self._state_dir, request.job_id), check_stage(request.stage))
        return control_pb2.CheckpointList(units=store.units())

    def CleanupJob(self, request: control_pb2.CleanupRequest,
                   context: grpc.ServicerContext) -> control_pb2.CleanupReply:
        self._caller_check(context)
        folder = job_dir(self._state_dir, request.job_id)
        # The coordinator asks only for failed or cancelled jobs: a task of one still winding down here (its
        # call was cancelled, the handler has not reached its next message yet) is closed and awaited.
        with self._lock:
            runs = [(stage, run) for (job, stage), run in self._running.items() if job == request.job_id]
        for _, run in runs:
            if self._on_stage_done is not None:
                self._on_stage_done(run.session)
            if run.worker is not None:
                run.worker.join(_REPLACE_WAIT_S)
        busy = sorted(stage for stage, run in runs if run.worker is not None and run.worker.is_alive())
        if busy:
            raise Conflict(f"job {request.job_id} still runs stage {', '.join(busy)} on this node")
        files = removed = 0
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    files, removed = files + 1, removed + path.stat().st_size
            shutil.rmtree(folder)
        log.info("job files removed", extra={"job": request.job_id, "files": files, "bytes": removed})
        return control_pb2.CleanupReply(files_removed=files, bytes_removed=removed)

    def _replace_previous(self, key: tuple[str, str], session: str) -> _Run | None:
        """Register this attempt of a stage; a previous one still running here is closed and awaited.
        None (and the previous one stays registered) if it did not stop in time."""
        mine = _Run(session)
        with self._lock:
            previous = self._running.get(key)
            self._running[key] = mine
        if previous is None or previous.session == session:
            return mine
        if self._on_stage_done is not None:
            self._on_stage_done(previous.session)
        if previous.worker is not None:
            previous.worker.join(_REPLACE_WAIT_S)
            if previous.worker.is_alive():
                with self._lock:
                    if self._running.get(key) is mine:
                        self._running[key] = previous
                return None
        return mine

    def _finished(self, key: tuple[str, str], run: _Run) -> None:
        with self._lock:
            if self._running.get(key) is run:
                del self._running[key]

    def RunTask(self, request: control_pb2.TaskRequest, context: grpc.ServicerContext) -> Iterator[control_pb2.TaskEvent]:
        self._caller_check(context)
        try:
            # The job id names a folder and the stage a session: one strict pattern each, before any use.
            check_job_id(request.job_id)
            check_stage(request.stage)
            work_dir = job_dir(self._state_dir, request.job_id)
        except InvalidJobId:
            log.warning("task refused: malformed job id or stage")
            yield _error("BAD_JOB_ID", "the job id or stage name is malformed")
            return
        handler = self._handlers.get(request.stage)
        if handler is None:
            yield _error("UNKNOWN_STAGE", f"this node has no handler for stage {request.stage!r}")
            return
        try:
            params = json.loads(request.params_json or "{}")
        except json.JSONDecodeError as exc:
            yield _error("BAD_PARAMS", f"params_json is not JSON: {exc}")
            return
        try:
            peers = {Identity.parse(p.party).party: p.address for p in request.peers}
        except InvalidIdentity:
            yield _error("BAD_PEERS", "a peer is not a party name of the form role/name")
            return
        ceiling = request.max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES
        if ceiling > self._max_message_bytes:
            yield _error("MESSAGE_LIMIT", f"the job allows messages of {ceiling} bytes; this node accepts at most "
                                          f"{self._max_message_bytes}")
            return
        work_dir.mkdir(parents=True, exist_ok=True)
        # One mailbox per attempt of a stage, accepting pushes from the stage's parties only: it is closed when
        # the attempt ends, which also wakes a handler still waiting on a peer after the coordinator cancelled it.
        try:
            session = stage_session(request.job_id, request.stage, request.attempt)
        except InvalidJobId:
            yield _error("BAD_JOB_ID", "the attempt number is out of range")
            return
        key = (request.job_id, request.stage)
        run = self._replace_previous(key, session)
        if run is None:
            yield _error("STAGE_BUSY", "the previous run of this stage has not stopped yet on this node")
            return
        checkpoints = CheckpointStore(work_dir, request.stage)
        try:
            if request.resume_from:
                checkpoints.load(request.resume_from)  # held and intact, or the stage cannot resume here
            checkpoints.truncate(request.resume_from)
        except CheckpointDamaged as exc:
            self._finished(key, run)
            if self._on_stage_done is not None:
                self._on_stage_done(session)  # whatever peers already pushed for this attempt is dropped
            yield _error("NO_CHECKPOINT", exc.public_message)
            return
        ctx = TaskContext(request.job_id, request.stage, params, self._channel_factory(session, peers, ceiling),
                          peers, work_dir, attempt=request.attempt, resume_from=request.resume_from)
        if self._on_stage_done is not None:
            context.add_callback(lambda: self._on_stage_done(session))
        outcome: dict[str, Any] = {}

        def work() -> None:
            started = time.monotonic()
            try:
                outcome["result"] = dict(handler(ctx))
                log.info("stage done", extra={"job": request.job_id, "stage": request.stage,
                                              "attempt": request.attempt,
                                              "seconds": round(time.monotonic() - started, 3)})
            except Exception as exc:  # the coordinator must hear about any failure, not a dropped stream
                outcome["error"] = failure_of(exc)
                if outcome["error"][0] == "INTERNAL":
                    log.error("stage failed", extra={"job": request.job_id, "stage": request.stage,
                                                     "trace": traceback.format_exc()})
                else:
                    log.warning("stage failed", extra={"job": request.job_id, "stage": request.stage,
                                                       "code": outcome["error"][0], "error": str(exc)})
            finally:
                ctx._events.put(None)

        worker = run.worker = threading.Thread(target=work, name=f"task-{request.job_id}-{request.stage}",
                                               daemon=True)
        worker.start()
        try:
            while True:
                event = ctx._events.get()
                if event is None:
                    break
                if context.is_active():
                    yield event
            worker.join()
        finally:
            close = getattr(ctx.channel, "close", None)
            if close is not None:
                close()
            if self._on_stage_done is not None:
                self._on_stage_done(session)
            self._finished(key, run)
        if "error" in outcome:
            yield _error(*outcome["error"])
        else:
            yield control_pb2.TaskEvent(result=control_pb2.TaskResult(
                summary_json=json.dumps(outcome["result"], sort_keys=True)))


def _error(code: str, message: str, peer: str = "") -> control_pb2.TaskEvent:
    return control_pb2.TaskEvent(error=control_pb2.TaskError(code=code, message=message, peer=peer))
