"""Run job stages on a node: the `Node` control service that the coordinator calls.

A role registers one handler per stage name. For each `RunTask` call the host builds a `GrpcChannel`
to the job's peers, runs the handler in a worker thread and streams its progress back; the handler's
return value (aggregate figures only, never raw values) is the stage result.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from errors import XydError
from federation.channel import Channel, ChannelError
from federation.chunking import DEFAULT_MAX_MESSAGE_BYTES, HARD_MAX_MESSAGE_BYTES
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
    _events: queue.Queue = field(repr=False, default_factory=queue.Queue)

    def progress(self, message: str, fraction: float = -1.0) -> None:
        """Report progress; it streams to the coordinator and from there to whoever watches the job."""
        self._events.put(control_pb2.TaskEvent(progress=control_pb2.Progress(message=message, fraction=fraction)))


Handler = Callable[[TaskContext], Mapping[str, Any]]
# (session, peers, the job's ceiling on one message in bytes) -> the stage's channel, its mailbox open
ChannelFactory = Callable[[str, Mapping[str, str], int], Channel]


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

    def Describe(self, request: control_pb2.DescribeRequest, context: grpc.ServicerContext) -> control_pb2.NodeDescription:
        self._caller_check(context)
        return self._describe()

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
        # One mailbox per stage, accepting pushes from the stage's parties only: it is closed when the stage
        # ends, which also wakes a handler still waiting on a peer after the coordinator cancelled the stage.
        session = stage_session(request.job_id, request.stage)
        channel = self._channel_factory(session, peers, ceiling)
        if self._on_stage_done is not None:
            context.add_callback(lambda: self._on_stage_done(session))
        ctx = TaskContext(request.job_id, request.stage, params, channel, peers, work_dir)
        outcome: dict[str, Any] = {}

        def work() -> None:
            started = time.monotonic()
            try:
                outcome["result"] = dict(handler(ctx))
                log.info("stage done", extra={"job": request.job_id, "stage": request.stage,
                                              "seconds": round(time.monotonic() - started, 3)})
            except ChannelError as exc:  # a peer's failure: its name and what happened are the operator's to see
                outcome["error"] = ("PEER_FAILURE", str(exc))
                log.warning("stage failed", extra={"job": request.job_id, "stage": request.stage, "error": str(exc)})
            except XydError as exc:
                outcome["error"] = (exc.code, exc.public_message)
                log.warning("stage failed", extra={"job": request.job_id, "stage": request.stage,
                                                   "code": exc.code, "error": str(exc)})
            except Exception as exc:  # the coordinator must hear about any failure, not a dropped stream
                log.error("stage failed", extra={"job": request.job_id, "stage": request.stage,
                                                 "trace": traceback.format_exc()})
                # The detail stays in this node's log: an exception's text may carry internal state.
                outcome["error"] = ("INTERNAL", f"internal error ({type(exc).__name__}); see this node's log")
            finally:
                ctx._events.put(None)

        worker = threading.Thread(target=work, name=f"task-{request.job_id}-{request.stage}", daemon=True)
        worker.start()
        while True:
            event = ctx._events.get()
            if event is None:
                break
            if context.is_active():
                yield event
        worker.join()
        close = getattr(channel, "close", None)
        if close is not None:
            close()
        if self._on_stage_done is not None:
            self._on_stage_done(session)
        if "error" in outcome:
            yield _error(*outcome["error"])
        else:
            yield control_pb2.TaskEvent(result=control_pb2.TaskResult(
                summary_json=json.dumps(outcome["result"], sort_keys=True)))


def _error(code: str, message: str) -> control_pb2.TaskEvent:
    return control_pb2.TaskEvent(error=control_pb2.TaskError(code=code, message=message))
