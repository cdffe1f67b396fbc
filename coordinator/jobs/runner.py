"""Drive a job through its stages by calling `RunTask` on every party in parallel, and recover from faults.

A stage succeeds only when every party's task succeeds. When one fails, the others are cancelled and the
stage's error names the party that started it (`failures.root_cause`). If that failure is transient (a
node died or restarted, a link dropped), the runner waits, bounded by `resume_wait`, for every party to
answer again, asks each which checkpoints of the stage it holds, and runs the stage again from the last
unit all of them hold (a SecureBoost tree, a hetero-LR epoch with the arbiter's own checkpoints counted in,
a PSI batch; stages without checkpoints start over). Each run is an attempt with fresh mailboxes; the model
of a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import grpc

from coordinator.jobs.arbiter import ArbiterHost, ArbiterRun
from coordinator.jobs.failures import CANCELLED, LOST, PartyOutcome, StageFailure, root_cause
from coordinator.jobs.store import JobState, JobStore
from coordinator.liveness import Liveness
from coordinator.model_registry import ModelRegistry
from coordinator.registry import NodeRegistry, UnknownParty
from errors import IllegalTransition, XydError
from federation.checkpoints import CheckpointDamaged, common_unit
from federation.grpc_channel import describe_failure
from federation.proto import control_pb2, control_pb2_grpc
from jobspec import JobSpec, Stage

log = logging.getLogger("xyd.jobs")

COORDINATOR = "coordinator/main"


@dataclass(frozen=True)
class StageEvent:
    """One line of job progress for watchers."""

    job_id: str
    party: str
    stage: str
    message: str
    fraction: float = -1.0


class StageFailed(XydError):
    """A stage failed; `failure` says why (root cause first) and whether resuming may cure it; `results` holds
    the parties that did finish their part (they used their data: governance usage lines)."""

    def __init__(self, failure: StageFailure, results: dict[str, Any] | None = None) -> None:
        super().__init__(failure.reason)
        self.failure = failure
        self.results = results or {}


class JobCancelled(XydError):
    """An operator cancelled the job while it ran."""


def _permanent(reason: str, *culprits: str, results: dict[str, Any] | None = None) -> StageFailed:
    return StageFailed(StageFailure(reason, False, tuple(culprits)), results)


@dataclass
class _Control:
    """A running job's cancellation flag and the parties' task calls of its current stage."""

    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.cancel.is_set():
            raise JobCancelled("cancelled by an operator")

    def cancel_calls(self) -> None:
        with self.lock:
            calls = list(self.calls.values())
        for call in calls:
            call.cancel()


class JobRunner:
    """Runs jobs one stage at a time; a stage succeeds only if every party's task succeeds."""

    def __init__(
        self,
        store: JobStore,
        registry: NodeRegistry,
        open_channel: Callable[[str, str], grpc.Channel],
        publish: Callable[[StageEvent], None],
        *,
        stage_timeout: float = 3600.0,
        models: ModelRegistry | None = None,
        connect_attempts: int = 4,
        arbiter: ArbiterHost | None = None,
        resume_wait: float = 600.0,
        max_resumes: int = 3,
        poll: float = 1.0,
        on_stage_done: Callable[[str, str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_stage_done = on_stage_done
        self.arbiter = arbiter
        self.connect_attempts = connect_attempts
        self.store = store
        self.models = models
        self.registry = registry
        self.open_channel = open_channel
        self.publish = publish
        self.stage_timeout = stage_timeout
        self.resume_wait = resume_wait
        self.max_resumes = max_resumes
        self.poll = poll
        self.liveness = Liveness(registry, open_channel)
        self._lock = threading.Lock()
        self._running: dict[str, _Control] = {}

    # ---- control -----------------------------------------------------------------------------------

    def start(self, job_id: str, spec: JobSpec, *, resume: bool = False) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(job_id, spec), kwargs={"resume": resume},
                                  name=f"job-{job_id}", daemon=True)
        thread.start()
        return thread

    def is_running(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._running

    def cancel(self, job_id: str) -> bool:
        """Ask a running job to stop (its tasks are cancelled at every party); False if it is not running."""
        with self._lock:
            control = self._running.get(job_id)
        if control is None:
            return False
        control.cancel.set()
        control.cancel_calls()
        return True

    def _event(self, job_id: str, stage: str, message: str, fraction: float = -1.0) -> None:
        self.publish(StageEvent(job_id, COORDINATOR, stage, message, fraction))

    # ---- a job ----------------------------------------------------------------------------------------

    def run(self, job_id: str, spec: JobSpec, *, resume: bool = False) -> JobState:
        """Run (or, with `resume`, continue) a job to its end; returns the state it ended in."""
        control = _Control()
        with self._lock:
            if job_id in self._running:
                raise IllegalTransition("RUNNING", "RUNNING", what=f"job {job_id} already runs")
            self._running[job_id] = control
        try:
            return self._run(job_id, spec, control, resume)
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _run(self, job_id: str, spec: JobSpec, control: _Control, resume: bool) -> JobState:
        try:
            for party in spec.parties:
                self.registry.address_of(party)
        except UnknownParty as exc:
            self._end_job(job_id, JobState.FAILED, str(exc))
            self._event(job_id, "", f"failed: {exc}")
            return JobState.FAILED
        self.store.set_job_state(job_id, JobState.RUNNING)
        record = self.store.get(job_id)
        assert record is not None
        done: dict[str, dict[str, Any]] = {}
        for position, stage in enumerate(spec.stages):
            previous = record.stages[position]
            if previous.state == JobState.SUCCEEDED:
                done[stage] = previous.results
                continue
            try:
                results = self._stage(job_id, position, stage, spec, control,
                                      resume=resume and previous.state != JobState.PENDING)
            except JobCancelled:
                self._end_stage(job_id, position, JobState.CANCELLED, "cancelled by an operator")
                self._end_job(job_id, JobState.CANCELLED, f"cancelled during stage {stage}")
                self._event(job_id, stage, f"stage {stage} cancelled")
                return JobState.CANCELLED
            except StageFailed as exc:
                if self.on_stage_done is not None and exc.results:
                    # A party that finished its part used its data even though the stage failed elsewhere.
                    self.on_stage_done(job_id, stage, exc.results)
                self._end_stage(job_id, position, JobState.FAILED, str(exc))
                self._end_job(job_id, JobState.FAILED, f"stage {stage}: {exc}")
                self._event(job_id, stage, f"stage {stage} failed: {exc}")
                return JobState.FAILED
            if stage is Stage.PUBLISH and self.models is not None:
                record_model = self._record_model(job_id, spec, {**done, stage: results})
                self._event(job_id, stage, f"model {record_model.model_id} version {record_model.version} recorded")
            self.store.set_stage_state(job_id, position, JobState.SUCCEEDED, results=results)
            done[stage] = results
            if self.on_stage_done is not None:  # the governance log's usage lines
                self.on_stage_done(job_id, stage, results)
            self._event(job_id, stage, f"stage {stage} succeeded", 1.0)
        self.store.set_job_state(job_id, JobState.SUCCEEDED)
        return JobState.SUCCEEDED

    def _end_stage(self, job_id: str, position: int, state: JobState, error: str) -> None:
        try:
            self.store.set_stage_state(job_id, position, state, error=error)
        except IllegalTransition:
            log.warning("stage already ended", extra={"job": job_id, "position": position})

    def _end_job(self, job_id: str, state: JobState, error: str) -> None:
        try:
            self.store.set_job_state(job_id, state, error)
        except IllegalTransition:
            log.warning("job already ended", extra={"job": job_id, "state": state.value})

    def _record_model(self, job_id: str, spec: JobSpec, done: dict[str, dict[str, Any]]):
        """Registry entry of a published model: parties, parameters, metrics and lineage (once per model id,
        so publishing again after a resumption records nothing new)."""
        published = done["publish"]
        model_id = published[spec.active]["model_id"]
        existing = self.models.get(model_id)
        if existing is not None:
            return existing
        train = done.get("train", {}).get(spec.active, {})
        metrics = {**train.get("metrics", {}), **done.get("evaluate", {}).get(spec.active, {}).get("metrics", {})}
        snapshots = {}
        for node in self.registry.all():
            if node.party in spec.parties:
                snapshots[node.party] = [t.snapshot_sha256.hex() for t in node.description.tables]
        lineage = {"job_id": job_id, "data_snapshots": snapshots,
                   "parts": {p: r.get("part_sha256") for p, r in published.items()},
                   "psi": {p: r for p, r in done.get("psi", {}).items()}}
        return self.models.record(
            model_id=model_id, name=spec.model_name, algorithm=str(spec.algorithm), job_id=job_id, parties=list(spec.parties),
            params=train.get("params", {}), metrics=metrics, lineage=lineage)

    # ---- a stage, with recovery -------------------------------------------------------------------

    def _stage(self, job_id: str, position: int, stage: Stage, spec: JobSpec, control: _Control, *,
               resume: bool) -> dict[str, Any]:
        self.store.set_stage_state(job_id, position, JobState.RUNNING)
        self._event(job_id, stage, f"stage {stage} {'resumed' if resume else 'started'}")
        use_checkpoints, resumes_left = resume, self.max_resumes
        while True:
            control.check()
            try:
                addresses = {p: self.registry.address_of(p) for p in spec.parties}
            except UnknownParty as exc:
                raise _permanent(str(exc)) from exc
            unit = self._common_checkpoint(job_id, stage, spec, addresses) if use_checkpoints else 0
            attempt = self.store.start_attempt(job_id, position, unit)
            if attempt:
                where = f"from checkpoint {unit}" if unit else "from its start"
                self._event(job_id, stage, f"stage {stage} attempt {attempt + 1} runs {where}")
            try:
                return self._run_stage(job_id, stage, spec, addresses, attempt, unit, control)
            except StageFailed as exc:
                control.check()
                failure = exc.failure
                if not failure.transient or resumes_left <= 0:
                    if failure.transient:
                        raise _permanent(f"{failure.reason} (gave up after {self.max_resumes} resumptions)",
                                         *failure.culprits) from exc
                    raise
                resumes_left -= 1
                log.warning("stage interrupted", extra={"job": job_id, "stage": stage, "error": failure.reason})
                self._event(job_id, stage, f"stage {stage} interrupted: {failure.reason}; waiting up to "
                                           f"{self.resume_wait:.0f} s for every party to answer")
                missing = self._await_parties(spec.parties, control)
                if missing:
                    absent = "; ".join(f"{p} ({why})" for p, why in sorted(missing.items()))
                    raise _permanent(f"{failure.reason}; not answering after {self.resume_wait:.0f} s: {absent}",
                                     *missing) from exc
                use_checkpoints = True

    def _await_parties(self, parties: tuple[str, ...], control: _Control) -> dict[str, str]:
        """Wait until every party answers (at its current registered address); {} or those that never did."""
        deadline = time.monotonic() + self.resume_wait
        while True:
            missing = {p: why for p, why in self.liveness.check_all(parties).items() if why}
            if not missing or time.monotonic() >= deadline:
                return missing
            if control.cancel.wait(self.poll):
                raise JobCancelled("cancelled by an operator")

    def _common_checkpoint(self, job_id: str, stage: Stage, spec: JobSpec, addresses: dict[str, str]) -> int:
        """The last checkpoint unit of the stage every party holds (0: start the stage over)."""
        held = []
        for party, address in addresses.items():
            stub = control_pb2_grpc.NodeStub(self.open_channel(address, party))
            try:
                reply = stub.Checkpoints(control_pb2.CheckpointQuery(job_id=job_id, stage=stage), timeout=10.0)
            except grpc.RpcError as exc:
                log.warning("no checkpoint list", extra={"job": job_id, "party": party, "error": exc.details()})
                return 0
            held.append(list(reply.units))
        if self._needs_arbiter(stage, spec) and self.arbiter is not None:
            held.append(self.arbiter.units(job_id, stage))  # the arbiter is a party of the stage too
        return common_unit(held)

    def _needs_arbiter(self, stage: Stage, spec: JobSpec) -> bool:
        return stage is Stage.TRAIN and spec.algorithm is not None and spec.algorithm.vertical_lr

    def _run_stage(self, job_id: str, stage: Stage, spec: JobSpec, addresses: dict[str, str], attempt: int,
                   unit: int, control: _Control) -> dict[str, Any]:
        params = spec.stage_params(stage)
        peers = dict(addresses)
        arbiter: ArbiterRun | None = None
        if self._needs_arbiter(stage, spec):
            if self.arbiter is None:
                raise _permanent(f"{spec.algorithm} needs the coordinator as arbiter and this runner has none")
            peers[self.arbiter.party] = self.arbiter.address
            try:
                arbiter = self.arbiter.start(job_id, stage, params, peers, max_message_bytes=spec.max_message_bytes,
                                             attempt=attempt, resume_from=unit)
            # The job's message ceiling is above what this coordinator accepts, or its checkpoint is damaged.
            except (ValueError, CheckpointDamaged) as exc:
                raise _permanent(f"{self.arbiter.party} (arbiter): {exc}", self.arbiter.party) from exc
        try:
            results = self._call_parties(job_id, stage, spec, addresses, peers, params, attempt, unit, control)
        except (StageFailed, JobCancelled):
            if arbiter is not None:
                arbiter.finish(abort=True)
            raise
        if arbiter is not None:
            outcome = arbiter.finish(abort=False, timeout=60.0)
            if outcome.error:
                raise _permanent(f"{self.arbiter.party} (arbiter): {outcome.error}", self.arbiter.party,
                                 results=results)
            results[self.arbiter.party] = {"arbiter_epochs": outcome.epochs}
        return results

    def _call_parties(self, job_id: str, stage: Stage, spec: JobSpec, addresses: dict[str, str],
                      peers: dict[str, str], params: dict[str, Any], attempt: int, unit: int,
                      control: _Control) -> dict[str, Any]:
        request = control_pb2.TaskRequest(
            job_id=job_id,
            stage=stage,
            peers=[control_pb2.Peer(party=p, address=a) for p, a in peers.items()],
            params_json=json.dumps(params, sort_keys=True),
            max_message_bytes=spec.max_message_bytes,
            attempt=attempt,
            resume_from=unit,
        )
        failure = threading.Event()
        with control.lock:
            control.calls = {}

        def stopping() -> bool:
            return failure.is_set() or control.cancel.is_set()

        def one(party: str) -> PartyOutcome:
            stub = control_pb2_grpc.NodeStub(self.open_channel(addresses[party], party))
            delay = 0.2
            for connect in range(1, self.connect_attempts + 1):
                call = stub.RunTask(request, timeout=self.stage_timeout)
                with control.lock:
                    control.calls[party] = call
                if stopping():  # another party failed before this call started
                    call.cancel()
                started = False
                try:
                    for event in call:
                        started = True
                        kind = event.WhichOneof("kind")
                        if kind == "progress":
                            self.publish(StageEvent(job_id, party, stage, event.progress.message,
                                                    event.progress.fraction))
                        elif kind == "result":
                            return PartyOutcome(party, result=json.loads(event.result.summary_json))
                        elif kind == "error":
                            return PartyOutcome(party, code=event.error.code, message=event.error.message,
                                                peer=event.error.peer)
                except grpc.RpcError as exc:
                    code, details = exc.code(), exc.details() or ""
                    if code == grpc.StatusCode.CANCELLED and stopping():
                        return PartyOutcome(party, code=CANCELLED, message="cancelled after another party failed")
                    # A connection that failed before the node saw the task (TLS handshake under load,
                    # a node restarting) is retried; once the task started, the node is lost.
                    if code == grpc.StatusCode.UNAVAILABLE and not started and connect < self.connect_attempts:
                        log.warning("retrying task start", extra={"job": job_id, "party": party,
                                                                  "attempt": connect, "error": details})
                        time.sleep(delay)
                        delay = min(delay * 2, 2.0)
                        continue
                    if code == grpc.StatusCode.UNAVAILABLE:
                        return PartyOutcome(party, code=LOST, message=f"{describe_failure(code, details)} "
                                                                      f"at {addresses[party]}")
                    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                        return PartyOutcome(party, code="STAGE_TIMEOUT", message=f"the stage ran longer than "
                                            f"{self.stage_timeout:.0f} s ([jobs] stage_timeout_seconds)")
                    return PartyOutcome(party, code=f"RPC_{code.name}", message=describe_failure(code, details))
                return PartyOutcome(party, code=LOST, message="the task stream ended without a result")
            return PartyOutcome(party, code=LOST, message="unreachable")

        outcomes: list[PartyOutcome] = []
        with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
            futures = [pool.submit(one, p) for p in spec.parties]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                if outcome.failed and not failure.is_set():
                    failure.set()
                    control.cancel_calls()
                elif not outcome.failed:
                    self.registry.seen(outcome.party)
        control.check()
        if failure.is_set():
            raise StageFailed(root_cause(outcomes), {o.party: o.result for o in outcomes if not o.failed})
        return {o.party: o.result for o in outcomes}
