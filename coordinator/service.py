"""The coordinator's gRPC service: node registration, node listing, job submission and progress."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import grpc

from coordinator.events import JobEventFeed
from coordinator.jobs.control import JobControl
from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import TERMINAL, JobRecord, JobState, JobStore
from coordinator.model_registry import ModelRecord, ModelRegistry
from coordinator.registry import NodeRegistry
from errors import AlreadyExists, InvalidInput, NotFound, Refused
from federation.job_ids import InvalidJobId, check_job_id
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import peer_identity
from jobspec.spec import parse_job_spec

log = logging.getLogger("xyd.coordinator")

NODE_ROLES = {"platform", "source"}
OPERATOR_ROLES = {"admin"}
# What a node may register: an address to dial (host:port; a host name, IPv4 or [IPv6]) and a description
# of its schema. A schema of thousands of columns is tens of KiB; the limit keeps the registry small.
_ADDRESS = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\]):[0-9]{1,5}")
MAX_DESCRIPTION_BYTES = 1 << 20


def job_status(record: JobRecord) -> control_pb2.JobStatus:
    """The wire form of a job's persisted state."""
    return control_pb2.JobStatus(
        job_id=record.job_id,
        state=record.state.value,
        error=record.error,
        name=record.name,
        created_at=record.created_at,
        updated_at=record.updated_at,
        stages=[
            control_pb2.StageStatus(stage=s.stage, state=s.state.value, error=s.error, attempts=s.attempts,
                                    resumed_from=s.resumed_from,
                                    results={k: json.dumps(v, sort_keys=True) for k, v in s.results.items()})
            for s in record.stages
        ],
    )


class CoordinatorServicer(control_pb2_grpc.CoordinatorServicer):
    """Identities come from the caller's certificate: nodes may register, operators may run jobs."""

    def __init__(self, store: JobStore, registry: NodeRegistry, runner: JobRunner, feed: JobEventFeed,
                 models: ModelRegistry | None = None, control: JobControl | None = None) -> None:
        self.store, self.registry, self.runner, self.feed = store, registry, runner, feed
        self.models = models or ModelRegistry(store.engine)
        self.control = control or JobControl(store, runner, on_start=feed.reopen, on_end=feed.close)

    def _require(self, context: grpc.ServicerContext, roles: set[str]) -> str:
        identity = peer_identity(context)
        if identity.role not in roles:
            raise Refused(f"{identity.party} may not call this method (needs role {sorted(roles)})")
        return identity.party

    def Register(self, request: control_pb2.RegisterRequest, context: grpc.ServicerContext) -> control_pb2.RegisterReply:
        party = self._require(context, NODE_ROLES)
        if not _ADDRESS.fullmatch(request.address) or not 0 < int(request.address.rsplit(":", 1)[1]) < 65536:
            raise InvalidInput("address must be host:port")
        if request.description.ByteSize() > MAX_DESCRIPTION_BYTES:
            raise InvalidInput(f"the node description exceeds {MAX_DESCRIPTION_BYTES} bytes")
        description = control_pb2.NodeDescription()
        description.CopyFrom(request.description)
        description.party = party  # what the node claims about itself never overrides its certificate
        self.registry.register(party, request.address, description)
        log.info("node registered", extra={"node": party, "address": request.address,
                                           "tables": len(description.tables)})
        return control_pb2.RegisterReply(party=party)

    def ListNodes(self, request: control_pb2.ListNodesRequest, context: grpc.ServicerContext) -> control_pb2.NodeList:
        self._require(context, OPERATOR_ROLES | {"platform"})  # the platform needs the roster to score
        nodes = self.registry.all()
        problems = self.runner.liveness.check_all(n.party for n in nodes) if request.probe else {}
        if problems:
            nodes = self.registry.all()  # the probes updated last_seen
        return control_pb2.NodeList(nodes=[
            control_pb2.NodeInfo(party=n.party, address=n.address, description=n.description,
                                 registered_at=n.registered_at, last_seen=n.last_seen,
                                 answering=request.probe and not problems.get(n.party),
                                 probe_error=problems.get(n.party, ""))
            for n in nodes
        ])

    def SubmitJob(self, request: control_pb2.JobSpec, context: grpc.ServicerContext) -> control_pb2.JobRef:
        caller = self._require(context, OPERATOR_ROLES)
        spec = parse_job_spec(request.spec_toml)  # a JobSpecError reaches the caller as INVALID_ARGUMENT
        job_id = check_job_id(self.control.submit(spec))  # names folders at every node
        log.info("job submitted", extra={"job": job_id, "by": caller, "stages": ",".join(spec.stages)})
        return control_pb2.JobRef(job_id=job_id)

    def _job_id(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> str:
        try:
            return check_job_id(request.job_id)
        except InvalidJobId as exc:
            raise InvalidInput("the job id is malformed") from exc
    def ListJobs(self, request: control_pb2.ListJobsRequest, context: grpc.ServicerContext) -> control_pb2.JobList:
        self._require(context, OPERATOR_ROLES)
        try:
            state = JobState(request.state.upper()) if request.state else None
        except ValueError:
            raise InvalidInput(f"unknown job state {request.state!r}; valid: {[s.value for s in JobState]}") from None
        limit = min(request.limit or 50, 1000)
        return control_pb2.JobList(jobs=[job_status(r) for r in self.store.list(limit, state)])

    def CancelJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.JobStatus:
        caller = self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        record = self.control.cancel(request.job_id)
        log.info("job cancelled", extra={"job": request.job_id, "by": caller, "state": record.state.value})
        return job_status(record)

    def RetryJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.JobRef:
        caller = self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        job_id = self.control.retry(request.job_id)
        log.info("job retried", extra={"job": request.job_id, "by": caller, "as": job_id})
        return control_pb2.JobRef(job_id=job_id)

    def ResumeJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.JobStatus:
        caller = self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        record = self.control.resume(request.job_id)
        log.info("job resumed", extra={"job": request.job_id, "by": caller})
        return job_status(record)

    def CleanupJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.CleanupSummary:
        caller = self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        parties = self.control.cleanup(request.job_id)
        log.info("job files removed", extra={"job": request.job_id, "by": caller,
                                             "failed": ",".join(p.party for p in parties if p.error)})
        return control_pb2.CleanupSummary(job_id=request.job_id, parties=[
            control_pb2.PartyCleanup(party=p.party, files_removed=p.files, bytes_removed=p.bytes, error=p.error)
            for p in parties])

    def GetJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> control_pb2.JobStatus:
        self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        record = self.store.get(request.job_id)
        if record is None:
            raise NotFound(f"no job {request.job_id}")
        return job_status(record)

    def WatchJob(self, request: control_pb2.JobRef, context: grpc.ServicerContext) -> Iterator[control_pb2.JobEvent]:
        self._require(context, OPERATOR_ROLES)
        self._job_id(request, context)
        if self.store.get(request.job_id) is None:
            raise NotFound(f"no job {request.job_id}")
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
            raise InvalidInput("name, algorithm and model_id are required")
        try:
            fields = {k: json.loads(getattr(request, f"{k}_json") or "{}") for k in ("params", "metrics", "lineage")}
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"a *_json field is not JSON (line {exc.lineno}, column {exc.colno})") from exc
        if self.models.get(request.model_id) is not None:
            raise AlreadyExists(f"model {request.model_id} is already registered")
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
