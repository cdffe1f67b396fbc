"""The federation as the platform node sees it, for the operator's console: nodes and their health, the
coordinator's model registry, the platform's own stage progress, and the evaluation curves it kept.

The platform may call the coordinator's `ListNodes` and `ListModels` (its certificate's role is admitted to
both) and every node's standard gRPC health service; job control (`GetJob`, `WatchJob`) needs an operator's
admin certificate, so job progress comes from the platform's own stages (`task_activity.py`), which is what
the active party of every joint job sees. Answers are cached for a few seconds so a page refresh does not
open a connection per node each time.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc
from platform_node.task_activity import TaskActivity

EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class NodeHealth:
    party: str
    address: str
    registered_at: float
    tables: tuple[tuple[str, int, int], ...]  # (name, rows, columns)
    health: str  # SERVING, NOT_SERVING, UNREACHABLE, ...


@dataclass(frozen=True)
class ModelSummary:
    model_id: str
    version: int
    name: str
    algorithm: str
    job_id: str
    parties: tuple[str, ...]
    metrics: dict[str, Any]
    params: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class EvaluationCurves:
    """What the platform kept of a model's holdout evaluation (its own labels and predictions, aggregated)."""

    roc: list[tuple[float, float]]  # (false-positive rate, true-positive rate)
    ks: dict[str, list[float]]  # share of rows (riskiest first), fpr, tpr: three aligned lists
    pd_quantiles: list[float]
    auc: float | None = None
    ks_value: float | None = None
    contributions: dict[str, dict[str, float]] = field(default_factory=dict)


class FederationView(Protocol):
    activity: TaskActivity

    def nodes(self) -> list[NodeHealth]: ...

    def models(self) -> list[ModelSummary]: ...

    def evaluation(self, model_id: str) -> EvaluationCurves | None: ...


def read_evaluation(models_dir: Path, model_id: str) -> EvaluationCurves | None:
    """The curves kept beside a published model part, if any (`models/<model id>/evaluation.json`)."""
    if not model_id or "/" in model_id or "\\" in model_id or model_id.startswith("."):
        return None
    path = models_dir / model_id / EVALUATION_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return EvaluationCurves(
        roc=[(float(f), float(t)) for f, t in raw.get("roc", [])],
        ks={k: [float(x) for x in v] for k, v in raw.get("ks", {}).items()},
        pd_quantiles=list(raw.get("pd_quantiles", [])), auc=raw.get("auc"), ks_value=raw.get("ks_value"),
        contributions=raw.get("contributions", {}))


class CoordinatorView:
    """A `FederationView` over the coordinator's gRPC service with the platform's own certificate."""

    CACHE_S = 5.0

    def __init__(self, coordinator: str, tls: NodeTls, models_dir: Path, activity: TaskActivity) -> None:
        self._coordinator, self._tls, self._models_dir = coordinator, tls, models_dir
        self.activity = activity
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, fetch):
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.CACHE_S:
            return hit[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _stub(self, channel: grpc.Channel) -> control_pb2_grpc.CoordinatorStub:
        return control_pb2_grpc.CoordinatorStub(channel)

    def nodes(self) -> list[NodeHealth]:
        return self._cached("nodes", self._fetch_nodes)

    def _fetch_nodes(self) -> list[NodeHealth]:
        channel = open_secure_channel(self._coordinator, self._tls, Identity("coordinator", "main"))
        try:
            listed = self._stub(channel).ListNodes(control_pb2.ListNodesRequest(), timeout=5.0).nodes
        finally:
            channel.close()
        entries = [("coordinator/main", self._coordinator, 0.0, ())]
        entries += [(n.party, n.address, n.registered_at,
                     tuple((t.name, t.rows, len(t.columns)) for t in n.description.tables)) for n in listed]
        with ThreadPoolExecutor(max_workers=min(8, len(entries))) as pool:
            health = list(pool.map(lambda e: self._health(e[0], e[1]), entries))
        return [NodeHealth(p, a, r, t, h) for (p, a, r, t), h in zip(entries, health, strict=True)]

    def _health(self, party: str, address: str) -> str:
        role, _, name = party.partition("/")
        channel = open_secure_channel(address, self._tls, Identity(role, name))
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2.0)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as err:
            return "UNREACHABLE" if err.code() in (grpc.StatusCode.UNAVAILABLE,
                                                   grpc.StatusCode.DEADLINE_EXCEEDED) else err.code().name
        finally:
            channel.close()

    def models(self) -> list[ModelSummary]:
        return self._cached("models", self._fetch_models)

    def _fetch_models(self) -> list[ModelSummary]:
        channel = open_secure_channel(self._coordinator, self._tls, Identity("coordinator", "main"))
        try:
            listed = self._stub(channel).ListModels(control_pb2.ListModelsRequest(), timeout=5.0).models
        finally:
            channel.close()
        return [ModelSummary(m.model_id, m.version, m.name, m.algorithm, m.job_id, tuple(m.parties),
                             json.loads(m.metrics_json or "{}"), json.loads(m.params_json or "{}"), m.created_at)
                for m in listed]

    def evaluation(self, model_id: str) -> EvaluationCurves | None:
        return read_evaluation(self._models_dir, model_id)
