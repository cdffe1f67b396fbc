"""Drive a job through its stages by calling `RunTask` on every party in parallel."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import grpc

from coordinator.jobs.spec import JobSpec
from coordinator.jobs.store import JobState, JobStore
from coordinator.registry import NodeRegistry, UnknownParty
from federation.proto import control_pb2, control_pb2_grpc

log = logging.getLogger("xyd.jobs")


@dataclass(frozen=True)
class StageEvent:
    """One line of job progress for watchers."""

    job_id: str
    party: str
    stage: str
    message: str
    fraction: float = -1.0


class StageFailed(RuntimeError):
    pass


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
    ) -> None:
        self.store = store
        self.registry = registry
        self.open_channel = open_channel
        self.publish = publish
        self.stage_timeout = stage_timeout

    def start(self, job_id: str, spec: JobSpec) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(job_id, spec), name=f"job-{job_id}", daemon=True)
        thread.start()
        return thread

    def run(self, job_id: str, spec: JobSpec) -> JobState:
        try:
            addresses = {p: self.registry.address_of(p) for p in spec.parties}
        except UnknownParty as exc:
            self.store.set_job_state(job_id, JobState.FAILED, str(exc))
            self.publish(StageEvent(job_id, "coordinator/main", "", f"failed: {exc}"))
            return JobState.FAILED
        self.store.set_job_state(job_id, JobState.RUNNING)
        for position, stage in enumerate(spec.stages):
            self.store.set_stage_state(job_id, position, JobState.RUNNING)
            self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} started"))
            try:
                results = self._run_stage(job_id, stage, spec, addresses)
            except StageFailed as exc:
                self.store.set_stage_state(job_id, position, JobState.FAILED, error=str(exc))
                self.store.set_job_state(job_id, JobState.FAILED, f"stage {stage}: {exc}")
                self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} failed: {exc}"))
                return JobState.FAILED
            self.store.set_stage_state(job_id, position, JobState.SUCCEEDED, results=results)
            self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} succeeded", 1.0))
        self.store.set_job_state(job_id, JobState.SUCCEEDED)
        return JobState.SUCCEEDED

    def _run_stage(self, job_id: str, stage: str, spec: JobSpec, addresses: dict[str, str]) -> dict[str, Any]:
        request = control_pb2.TaskRequest(
            job_id=job_id,
            stage=stage,
            peers=[control_pb2.Peer(party=p, address=a) for p, a in addresses.items()],
            params_json=json.dumps(spec.stage_params(stage), sort_keys=True),
        )
        calls: dict[str, Any] = {}
        failure = threading.Event()

        def one(party: str) -> tuple[str, Any]:
            stub = control_pb2_grpc.NodeStub(self.open_channel(addresses[party], party))
            call = stub.RunTask(request, timeout=self.stage_timeout)
            calls[party] = call
            if failure.is_set():  # another party failed before this call started
                call.cancel()
            try:
                for event in call:
                    kind = event.WhichOneof("kind")
                    if kind == "progress":
                        self.publish(StageEvent(job_id, party, stage, event.progress.message, event.progress.fraction))
                    elif kind == "result":
                        return party, json.loads(event.result.summary_json)
                    elif kind == "error":
                        raise StageFailed(f"{party}: {event.error.code}: {event.error.message}")
            except grpc.RpcError as exc:
                if failure.is_set() and exc.code() == grpc.StatusCode.CANCELLED:
                    raise StageFailed(f"{party}: cancelled after another party failed") from exc
                raise StageFailed(f"{party}: {exc.code().name}: {exc.details()}") from exc
            raise StageFailed(f"{party}: stream ended without a result")

        results: dict[str, Any] = {}
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
            futures = {pool.submit(one, p): p for p in spec.parties}
            for future in as_completed(futures):
                try:
                    party, result = future.result()
                    results[party] = result
                except StageFailed as exc:
                    errors.append(str(exc))
                    if not failure.is_set():
                        failure.set()
                        for call in list(calls.values()):
                            call.cancel()
        if errors:
            primary = [e for e in errors if "cancelled after another party failed" not in e] or errors
            raise StageFailed("; ".join(primary))
        return results
