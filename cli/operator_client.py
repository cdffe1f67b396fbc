"""An operator's client of the coordinator (admin certificate): list nodes, submit and watch jobs."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from errors import XydError
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc


class OperatorError(XydError):
    """The coordinator refused or could not be reached; the message says why."""


@dataclass(frozen=True)
class OperatorConfig:
    coordinator: str
    tls: NodeTls

    @classmethod
    def load(cls, path: Path) -> OperatorConfig:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        base = path.parent

        def p(value: str) -> Path:
            q = Path(value)
            return q if q.is_absolute() else base / q

        tls = raw["tls"]
        return cls(
            coordinator=raw["coordinator"]["address"],
            tls=NodeTls.load(p(tls["ca"]), p(tls["cert"]), p(tls["key"]), p(tls["crl"]) if tls.get("crl") else None),
        )


class CoordinatorClient:
    """Thin typed wrapper over the Coordinator service; errors become `OperatorError` with the server's text."""

    def __init__(self, config: OperatorConfig) -> None:
        self._channel = open_secure_channel(config.coordinator, config.tls, Identity("coordinator", "main"))
        self._stub = control_pb2_grpc.CoordinatorStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CoordinatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable, request, timeout: float = 30.0):
        try:
            return fn(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise OperatorError(f"coordinator: {exc.code().name}: {exc.details()}") from exc

    def nodes(self, *, probe: bool = False) -> list[control_pb2.NodeInfo]:
        """Registered nodes; with `probe`, the coordinator asks each whether it answers now."""
        return list(self._call(self._stub.ListNodes, control_pb2.ListNodesRequest(probe=probe)).nodes)

    def jobs(self, *, limit: int = 50, state: str = "") -> list[control_pb2.JobStatus]:
        return list(self._call(self._stub.ListJobs, control_pb2.ListJobsRequest(limit=limit, state=state)).jobs)

    def cancel(self, job_id: str) -> control_pb2.JobStatus:
        return self._call(self._stub.CancelJob, control_pb2.JobRef(job_id=job_id), timeout=60.0)

    def retry(self, job_id: str) -> str:
        return self._call(self._stub.RetryJob, control_pb2.JobRef(job_id=job_id)).job_id

    def resume(self, job_id: str) -> control_pb2.JobStatus:
        return self._call(self._stub.ResumeJob, control_pb2.JobRef(job_id=job_id))

    def cleanup(self, job_id: str) -> control_pb2.CleanupSummary:
        return self._call(self._stub.CleanupJob, control_pb2.JobRef(job_id=job_id), timeout=60.0)

    def submit(self, spec_toml: str) -> str:
        return self._call(self._stub.SubmitJob, control_pb2.JobSpec(spec_toml=spec_toml)).job_id

    def status(self, job_id: str) -> control_pb2.JobStatus:
        return self._call(self._stub.GetJob, control_pb2.JobRef(job_id=job_id))

    def register_model(self, registration: control_pb2.ModelRegistration) -> control_pb2.ModelEntry:
        return self._call(self._stub.RegisterModel, registration)

    def models(self, name: str = "") -> list[control_pb2.ModelEntry]:
        return list(self._call(self._stub.ListModels, control_pb2.ListModelsRequest(name=name)).models)

    def watch(self, job_id: str, timeout: float = 3600.0) -> Iterator[control_pb2.JobEvent]:
        try:
            yield from self._stub.WatchJob(control_pb2.JobRef(job_id=job_id), timeout=timeout)
        except grpc.RpcError as exc:
            raise OperatorError(f"coordinator: {exc.code().name}: {exc.details()}") from exc


def stage_results(status: control_pb2.JobStatus) -> dict[str, dict[str, dict]]:
    """{stage: {party: result}} from a job status."""
    return {s.stage: {party: json.loads(text) for party, text in s.results.items()} for s in status.stages}
