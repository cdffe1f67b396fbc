"""Job control at the coordinator: start, cancel, resume, retry and clean up jobs, and resume the jobs a
restart interrupted once every party answers again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import CANCELLABLE, RESUMABLE, JobRecord, JobState, JobStore
from errors import Conflict, NotFound
from federation.grpc_channel import describe_failure
from federation.proto import control_pb2, control_pb2_grpc
from jobspec.spec import JobSpec, parse_job_spec

log = logging.getLogger("xyd.jobs.control")

# States whose files an operator may remove from every party.
CLEANABLE = {JobState.FAILED, JobState.CANCELLED}


@dataclass(frozen=True)
class PartyCleanup:
    party: str
    files: int = 0
    bytes: int = 0
    error: str = ""


class JobControl:
    """Owns the jobs' runner threads; `on_end(job_id)` is called whenever a run of a job ends."""

    def __init__(self, store: JobStore, runner: JobRunner, *, on_start: Callable[[str], None] = lambda _: None,
                 on_end: Callable[[str], None] = lambda _: None, cancel_wait: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.runner = store, runner
        self._on_start, self._on_end = on_start, on_end
        self._cancel_wait = cancel_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    # ---- starting runs ---------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        """Persist a new job and start running it."""
        job_id = self.store.create(spec.name, spec.text, spec.stages)
        self._launch(job_id, spec, resume=False)
        return job_id

    def _launch(self, job_id: str, spec: JobSpec, *, resume: bool) -> None:
        def run() -> None:
            try:
                self.runner.run(job_id, spec, resume=resume)
            except Exception:
                log.exception("job runner crashed", extra={"job": job_id})
            finally:
                with self._lock:
                    self._threads.pop(job_id, None)
                self._on_end(job_id)

        with self._lock:
            if job_id in self._threads:
                raise Conflict(f"job {job_id} is already running")
            thread = self._threads[job_id] = threading.Thread(target=run, name=f"job-{job_id}", daemon=True)
        self._on_start(job_id)
        thread.start()

    def running(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._threads

    def _record(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id}")
        return record

    # ---- operator actions -----------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobRecord:
        """Stop a pending, running or interrupted job; every party's task of it is cancelled."""
        record = self._record(job_id)
        if record.state not in CANCELLABLE:
            raise Conflict(f"job {job_id} is {record.state.value}: only a pending, running or interrupted job "
                           "can be cancelled")
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None and self.runner.cancel(job_id):
            thread.join(self._cancel_wait)
            return self._record(job_id)
        self.store.set_job_state(job_id, JobState.CANCELLED, "cancelled by an operator")
        for position, stage in enumerate(record.stages):
            if stage.state in (JobState.RUNNING, JobState.INTERRUPTED):
                self.store.set_stage_state(job_id, position, JobState.CANCELLED, error="cancelled by an operator")
        return self._record(job_id)

    def resume(self, job_id: str) -> JobRecord:
        """Continue an interrupted or failed job from its first unfinished stage, at the last checkpoint every
        party holds."""
        record = self._record(job_id)
        if record.state not in RESUMABLE:
            raise Conflict(f"job {job_id} is {record.state.value}: only an interrupted or failed job can be "
                           "resumed (a cancelled one can be retried)")
        self._launch(job_id, parse_job_spec(record.spec_toml), resume=True)
        return self._record(job_id)

    def retry(self, job_id: str) -> str:
        """Run a failed or cancelled job's file again as a new job, from scratch; returns the new id."""
        record = self._record(job_id)
        if record.state not in (JobState.FAILED, JobState.CANCELLED):
            raise Conflict(f"job {job_id} is {record.state.value}: only a failed or cancelled job can be retried")
        new_id = self.submit(parse_job_spec(record.spec_toml))
        log.info("job retried", extra={"job": job_id, "as": new_id})
        return new_id

    def cleanup(self, job_id: str) -> list[PartyCleanup]:
        """Remove a failed or cancelled job's folder on every party (each answers for itself)."""
        record = self._record(job_id)
        if record.state not in CLEANABLE or self.running(job_id):
            raise Conflict(f"job {job_id} is {record.state.value}: only a failed or cancelled job's files can be "
                           "removed")
        parties = parse_job_spec(record.spec_toml).parties

        def one(party: str) -> PartyCleanup:
            try:
                address = self.runner.registry.address_of(party)
                stub = control_pb2_grpc.NodeStub(self.runner.open_channel(address, party))
                reply = stub.CleanupJob(control_pb2.CleanupRequest(job_id=job_id), timeout=30.0)
            except grpc.RpcError as exc:
                return PartyCleanup(party, error=describe_failure(exc.code(), exc.details() or ""))
            except NotFound as exc:
                return PartyCleanup(party, error=str(exc))
            return PartyCleanup(party, reply.files_removed, reply.bytes_removed)

        with ThreadPoolExecutor(max_workers=min(16, len(parties))) as pool:
            summary = list(pool.map(one, parties))
        arbiter = self.runner.arbiter
        if arbiter is not None:  # the coordinator's own folder: the hetero-LR arbiter's epoch checkpoints
            files, size = arbiter.remove_job(job_id)
            if files:
                summary.append(PartyCleanup(arbiter.party, files, size))
        return summary

    # ---- after a coordinator restart ------------------------------------------------------------

    def resume_interrupted(self) -> list[str]:
        """Resume every interrupted job whose parties all answer now; fail those that waited longer than the
        runner's `resume_wait`. Returns the ids resumed."""
        resumed = []
        for record in self.store.list(limit=1000, state=JobState.INTERRUPTED):
            if self.running(record.job_id):
                continue
            spec = parse_job_spec(record.spec_toml)
            missing = {p: why for p, why in self.runner.liveness.check_all(spec.parties).items() if why}
            if not missing:
                log.info("resuming interrupted job", extra={"job": record.job_id})
                try:
                    self._launch(record.job_id, spec, resume=True)
                except Conflict:
                    continue
                resumed.append(record.job_id)
            elif self._clock() - record.updated_at > self.runner.resume_wait:
                absent = "; ".join(f"{p} ({why})" for p, why in sorted(missing.items()))
                for position, stage in enumerate(record.stages):
                    if stage.state == JobState.INTERRUPTED:
                        self.store.set_stage_state(record.job_id, position, JobState.FAILED, error=stage.error)
                self.store.set_job_state(record.job_id, JobState.FAILED,
                                         f"{record.error}; not answering after {self.runner.resume_wait:.0f} s: "
                                         f"{absent} (`xyd job resume {record.job_id}` once they are back)")
        return resumed

    def watch_interrupted(self, stop: threading.Event, *, every: float = 2.0) -> threading.Thread:
        """A thread that calls `resume_interrupted` every `every` seconds until `stop` is set."""

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.resume_interrupted()
                except Exception:
                    log.exception("resuming interrupted jobs failed")

        thread = threading.Thread(target=loop, name="job-resumer", daemon=True)
        thread.start()
        return thread
