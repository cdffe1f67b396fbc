"""The coordinator's gRPC service: node registration, node listing, job submission and progress."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import grpc

from consent.governance import GovernanceError
from coordinator.events import JobEventFeed
from coordinator.governance import GovernanceDesk, GovernanceMethods
from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import TERMINAL, JobRecord, JobStore
from coordinator.model_registry import ModelRecord, ModelRegistry
from coordinator.registry import NodeRegistry
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import peer_identity
from jobspec.spec import JobSpecError, parse_job_spec

log = logging.getLogger("xyd.coordinator")

NODE_ROLES = {"platform", "source"}
OPERATOR_ROLES = {"admin"}


def job_status(record: JobRecord) -> control_pb2.JobStatus:
    """The wire form of a job's persisted state."""
    return control_pb2.JobStatus(
        job_id=record.job_id,
        state=record.state.value,
        error=record.error,
        stages=[
            control_pb2.StageStatus(stage=s.stage, state=s.state.value, error=s.error,
                                    results={k: json.dumps(v, sort_keys=True) for k, v in s.results.items()})
            for s in record.stages
        ],
    )


class CoordinatorServicer(GovernanceMethods, control_pb2_grpc.CoordinatorServicer):
    """Identities come from the caller's certificate: nodes may register, operators may run jobs."""

    def __init__(self, store: JobStore, registry: NodeRegistry, runner: JobRunner, feed: JobEventFeed,
                 models: ModelRegistry | None = None, governance: GovernanceDesk | None = None) -> None:
        self.store, self.registry, self.runner, self.feed = store, registry, runner, feed
        self.models = models or ModelRegistry(store.engine)
        self.governance = governance or GovernanceDesk(store.engine.url.render_as_string(hide_password=False), registry)

    def _require(self, context: grpc.ServicerContext, roles: set[str]) -> str:
        identity = peer_identity(context)
        if identity.role not in roles:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"{identity.party} may not call this method (needs role {sorted(roles)})")
        return identity.party

    def Register(self, request: control_pb2.RegisterRequest, context: grpc.ServicerContext) -> control_pb2.RegisterReply:
        party = self._require(context, NODE_ROLES)
        if not request.address:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "address is required")
        description = control_pb2.NodeDescription()
        description.CopyFrom(request.description)
        description.party = party  # what the node claims about itself never overrides its certificate
        if description.catalogue and not party.startswith("source/"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "only a source unit declares a catalogue")
        try:
            self.governance.registered(party, description)
        except GovernanceError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"catalogue refused: {exc}")
        self.registry.register(party, request.address, description)
        log.info("node registered", extra={"node": party, "address": request.address,
                                           "tables": len(description.tables)})
        return control_pb2.RegisterReply(party=party)

    def ListNodes(self, request: control_pb2.ListNodesRequest, context: grpc.ServicerContext) -> control_pb2.NodeList:
        self._require(context, OPERATOR_ROLES | {"platform"})  # the platform needs the roster to score
        return control_pb2.NodeList(nodes=[
            control_pb2.NodeInfo(party=n.party, address=n.address, description=n.description,
                                 registered_at=n.registered_at)
            for n in self.registry.all()
        ])

    def SubmitJob(self, request: control_pb2.JobSpec, context: grpc.ServicerContext) -> control_pb2.JobRef:
        caller = self._require(context, OPERATOR_ROLES)
        try:
            spec = parse_job_spec(request.spec_toml)
        except JobSpecError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        job_id = self.store.create(spec.name, spec.text, spec.stages)
        log.info("job submitted", extra={"job": job_id, "by": caller, "stages": ",".join(spec.stages)})

        def run() -> None:
            try:
                self.runner.run(job_id, spec)
            except Exception:
                log.exception("job runner crashed", extra={"job": job_id})
            finally:
                self.feed.close(job_id)

        threading.Thread(target=run, name=f"job-{job_id}", daemon=True).start()
        return control_pb2.JobRef(job_id=job_id)

    def GetJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.JobStatus:
        self._require(context, OPERATOR_ROLES)
        record = self.store.get(request.job_id)
        if record is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        return job_status(record)

    def WatchJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> Iterator[control_pb2.JobEvent]:
        self._require(context, OPERATOR_ROLES)
        if self.store.get(request.job_id) is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        seen = 0
        while context.is_active():
            events, closed = self.feed.read(request.job_id, seen, timeout=1.0)
            for e in events:
                yield control_pb2.JobEvent(job_id=e.job_id, party=e.party, stage=e.stage, message=e.message,
                                           fraction=e.fraction)
            seen += len(events)
            record = self.store.get(request.job_id)
            if record is not None and record.state in TERMINAL and (closed or not events):
                # drain anything published between the read and the state check
                tail, _ = self.feed.read(request.job_id, seen, timeout=0.0)
                for e in tail:
                    yield control_pb2.JobEvent(job_id=e.job_id, party=e.party, stage=e.stage,
                                               message=e.message, fraction=e.fraction)
                yield control_pb2.JobEvent(job_id=request.job_id, status=job_status(record))
                return

    def RegisterModel(self, request: control_pb2.ModelRegistration,
                      context: grpc.ServicerContext) -> control_pb2.ModelEntry:
        caller = self._require(context, OPERATOR_ROLES)
        if not request.name or not request.algorithm or not request.model_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name, algorithm and model_id are required")
        try:
            fields = {k: json.loads(getattr(request, f"{k}_json") or "{}") for k in ("params", "metrics", "lineage")}
        except json.JSONDecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"a *_json field is not JSON: {exc}")
        if self.models.get(request.model_id) is not None:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"model {request.model_id} is already registered")
        record = self.models.record(model_id=request.model_id, name=request.name, algorithm=request.algorithm,
                                    job_id="", parties=list(request.parties), **fields)
        log.info("model registered", extra={"model": record.model_id, "by": caller, "version": record.version})
        return model_entry(record)

    def ListModels(self, request: control_pb2.ListModelsRequest, context: grpc.ServicerContext) -> control_pb2.ModelList:
        self._require(context, OPERATOR_ROLES | {"platform"})
        return control_pb2.ModelList(models=[model_entry(r) for r in self.models.list(request.name or None)])


def model_entry(record: ModelRecord) -> control_pb2.ModelEntry:
    """The wire form of a registry entry."""
    return control_pb2.ModelEntry(
        model_id=record.model_id, version=record.version, name=record.name, algorithm=record.algorithm,
        job_id=record.job_id, parties=record.parties, params_json=json.dumps(record.params, sort_keys=True),
        metrics_json=json.dumps(record.metrics, sort_keys=True), lineage_json=json.dumps(record.lineage, sort_keys=True),
        created_at=record.created_at)
