"""Drive a job through its stages by calling `RunTask` on every party in parallel."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import grpc

from coordinator.jobs.arbiter import ArbiterHost, ArbiterRun
from coordinator.jobs.store import JobState, JobStore
from coordinator.model_registry import ModelRegistry
from coordinator.registry import NodeRegistry, UnknownParty
from federation.proto import control_pb2, control_pb2_grpc
from jobspec.spec import ARBITER_ALGORITHMS, JobSpec

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
    """A stage did not succeed; `results` holds the parties that did finish their part (usage lines)."""

    def __init__(self, message: str, results: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.results = results or {}


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
        done: dict[str, dict[str, Any]] = {}
        for position, stage in enumerate(spec.stages):
            self.store.set_stage_state(job_id, position, JobState.RUNNING)
            self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} started"))
            try:
                results = self._run_stage(job_id, stage, spec, addresses)
            except StageFailed as exc:
                if self.on_stage_done is not None and exc.results:
                    # A party that finished its part used its data even though the stage failed elsewhere.
                    self.on_stage_done(job_id, stage, exc.results)
                self.store.set_stage_state(job_id, position, JobState.FAILED, error=str(exc))
                self.store.set_job_state(job_id, JobState.FAILED, f"stage {stage}: {exc}")
                self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} failed: {exc}"))
                return JobState.FAILED
            self.store.set_stage_state(job_id, position, JobState.SUCCEEDED, results=results)
            done[stage] = results
            if self.on_stage_done is not None:  # the governance log's usage lines
                self.on_stage_done(job_id, stage, results)
            if stage == "publish" and self.models is not None:
                record = self._record_model(job_id, spec, done)
                self.publish(StageEvent(job_id, "coordinator/main", stage,
                                        f"model {record.model_id} version {record.version} recorded"))
            self.publish(StageEvent(job_id, "coordinator/main", stage, f"stage {stage} succeeded", 1.0))
        self.store.set_job_state(job_id, JobState.SUCCEEDED)
        return JobState.SUCCEEDED

    def _record_model(self, job_id: str, spec: JobSpec, done: dict[str, dict[str, Any]]):
        """Registry entry of a published model: parties, parameters, metrics and lineage."""
        published = done["publish"]
        model_id = published[spec.active]["model_id"]
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
            model_id=model_id, name=str(spec.sections.get("train", {}).get("model_name", spec.name)),
            algorithm=str(spec.algorithm), job_id=job_id, parties=list(spec.parties),
            params=train.get("params", {}), metrics=metrics, lineage=lineage)

    def _needs_arbiter(self, stage: str, spec: JobSpec) -> bool:
        return stage == "train" and spec.algorithm in ARBITER_ALGORITHMS

    def _run_stage(self, job_id: str, stage: str, spec: JobSpec, addresses: dict[str, str]) -> dict[str, Any]:
        params = spec.stage_params(stage)
        peers = dict(addresses)
        arbiter: ArbiterRun | None = None
        if self._needs_arbiter(stage, spec):
            if self.arbiter is None:
                raise StageFailed(f"{spec.algorithm} needs the coordinator as arbiter and this runner has none")
            peers[self.arbiter.party] = self.arbiter.address
            arbiter = self.arbiter.start(job_id, stage, params, peers)
        try:
            results = self._call_parties(job_id, stage, spec, addresses, peers, params)
        except StageFailed:
            if arbiter is not None:
                arbiter.finish(abort=True)
            raise
        if arbiter is not None:
            outcome = arbiter.finish(abort=False, timeout=60.0)
            if outcome.error:
                raise StageFailed(f"{self.arbiter.party} (arbiter): {outcome.error}", results)
            results[self.arbiter.party] = {"arbiter_epochs": outcome.epochs}
        return results

    def _call_parties(self, job_id: str, stage: str, spec: JobSpec, addresses: dict[str, str],
                      peers: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
        request = control_pb2.TaskRequest(
            job_id=job_id,
            stage=stage,
            peers=[control_pb2.Peer(party=p, address=a) for p, a in peers.items()],
            params_json=json.dumps(params, sort_keys=True),
        )
        calls: dict[str, Any] = {}
        failure = threading.Event()

        def one(party: str) -> tuple[str, Any]:
            stub = control_pb2_grpc.NodeStub(self.open_channel(addresses[party], party))
            delay = 0.2
            for attempt in range(1, self.connect_attempts + 1):
                call = stub.RunTask(request, timeout=self.stage_timeout)
                calls[party] = call
                if failure.is_set():  # another party failed before this call started
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
                            return party, json.loads(event.result.summary_json)
                        elif kind == "error":
                            raise StageFailed(f"{party}: {event.error.code}: {event.error.message}")
                except grpc.RpcError as exc:
                    if failure.is_set() and exc.code() == grpc.StatusCode.CANCELLED:
                        raise StageFailed(f"{party}: cancelled after another party failed") from exc
                    # A connection that failed before the node saw the task (TLS handshake under load,
                    # a node restarting) is retried; once the task started, a failure is final.
                    if exc.code() == grpc.StatusCode.UNAVAILABLE and not started and attempt < self.connect_attempts:
                        log.warning("retrying task start", extra={"job": job_id, "party": party,
                                                                  "attempt": attempt, "error": exc.details()})
                        time.sleep(delay)
                        delay = min(delay * 2, 2.0)
                        continue
                    raise StageFailed(f"{party}: {exc.code().name}: {exc.details()}") from exc
                raise StageFailed(f"{party}: stream ended without a result")
            raise StageFailed(f"{party}: unreachable")

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
            raise StageFailed("; ".join(primary), results)
        return results
