from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckpointQuery(_message.Message):
    __slots__ = ("job_id", "stage")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: str
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class CheckpointList(_message.Message):
    __slots__ = ("units",)
    UNITS_FIELD_NUMBER: _ClassVar[int]
    units: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, units: _Optional[_Iterable[int]] = ...) -> None: ...

class CleanupRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CleanupReply(_message.Message):
    __slots__ = ("files_removed", "bytes_removed")
    FILES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    files_removed: int
    bytes_removed: int
    def __init__(self, files_removed: _Optional[int] = ..., bytes_removed: _Optional[int] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ColumnSchema(_message.Message):
    __slots__ = ("name", "type", "sensitivity", "category")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    sensitivity: str
    category: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., sensitivity: _Optional[str] = ..., category: _Optional[str] = ...) -> None: ...

class TableSchema(_message.Message):
    __slots__ = ("name", "id_column", "columns", "rows", "snapshot_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    id_column: str
    columns: _containers.RepeatedCompositeFieldContainer[ColumnSchema]
    rows: int
    snapshot_sha256: bytes
    def __init__(self, name: _Optional[str] = ..., id_column: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[ColumnSchema, _Mapping]]] = ..., rows: _Optional[int] = ..., snapshot_sha256: _Optional[bytes] = ...) -> None: ...

class NodeDescription(_message.Message):
    __slots__ = ("party", "tables", "quality", "catalogue", "approval_key")
    class QualityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARTY_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_KEY_FIELD_NUMBER: _ClassVar[int]
    party: str
    tables: _containers.RepeatedCompositeFieldContainer[TableSchema]
    quality: _containers.ScalarMap[str, str]
    catalogue: _containers.RepeatedCompositeFieldContainer[CatalogueItem]
    approval_key: bytes
    def __init__(self, party: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[TableSchema, _Mapping]]] = ..., quality: _Optional[_Mapping[str, str]] = ..., catalogue: _Optional[_Iterable[_Union[CatalogueItem, _Mapping]]] = ..., approval_key: _Optional[bytes] = ...) -> None: ...

class CatalogueItem(_message.Message):
    __slots__ = ("name", "category", "description", "unit", "update_frequency", "sensitivity", "condition")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    category: str
    description: str
    unit: str
    update_frequency: str
    sensitivity: str
    condition: str
    def __init__(self, name: _Optional[str] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., unit: _Optional[str] = ..., update_frequency: _Optional[str] = ..., sensitivity: _Optional[str] = ..., condition: _Optional[str] = ...) -> None: ...

class Peer(_message.Message):
    __slots__ = ("party", "address")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    party: str
    address: str
    def __init__(self, party: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class TaskRequest(_message.Message):
    __slots__ = ("job_id", "stage", "peers", "params_json", "max_message_bytes", "attempt", "resume_from")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: str
    peers: _containers.RepeatedCompositeFieldContainer[Peer]
    params_json: str
    max_message_bytes: int
    attempt: int
    resume_from: int
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[str] = ..., peers: _Optional[_Iterable[_Union[Peer, _Mapping]]] = ..., params_json: _Optional[str] = ..., max_message_bytes: _Optional[int] = ..., attempt: _Optional[int] = ..., resume_from: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("message", "fraction")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    message: str
    fraction: float
    def __init__(self, message: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("summary_json",)
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    summary_json: str
    def __init__(self, summary_json: _Optional[str] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("code", "message", "peer")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    peer: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., peer: _Optional[str] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("progress", "result", "error")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    result: TaskResult
    error: TaskError
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[TaskResult, _Mapping]] = ..., error: _Optional[_Union[TaskError, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit", "state")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    state: str
    def __init__(self, limit: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class JobList(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobStatus]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobStatus, _Mapping]]] = ...) -> None: ...

class PartyCleanup(_message.Message):
    __slots__ = ("party", "files_removed", "bytes_removed", "error")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    FILES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    party: str
    files_removed: int
    bytes_removed: int
    error: str
    def __init__(self, party: _Optional[str] = ..., files_removed: _Optional[int] = ..., bytes_removed: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class CleanupSummary(_message.Message):
    __slots__ = ("job_id", "parties")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    parties: _containers.RepeatedCompositeFieldContainer[PartyCleanup]
    def __init__(self, job_id: _Optional[str] = ..., parties: _Optional[_Iterable[_Union[PartyCleanup, _Mapping]]] = ...) -> None: ...

class UsageBatch(_message.Message):
    __slots__ = ("line_json",)
    LINE_JSON_FIELD_NUMBER: _ClassVar[int]
    line_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, line_json: _Optional[_Iterable[str]] = ...) -> None: ...

class UsageAck(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: int
    def __init__(self, lines: _Optional[int] = ...) -> None: ...

class UsageQuery(_message.Message):
    __slots__ = ("first_day", "last_day")
    FIRST_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    first_day: str
    last_day: str
    def __init__(self, first_day: _Optional[str] = ..., last_day: _Optional[str] = ...) -> None: ...

class UsageItem(_message.Message):
    __slots__ = ("line", "leaf", "index", "proof")
    LINE_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    line: bytes
    leaf: bytes
    index: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, line: _Optional[bytes] = ..., leaf: _Optional[bytes] = ..., index: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class UsageEvidence(_message.Message):
    __slots__ = ("log_key_binding", "checkpoint", "items", "witness_bindings", "quorum", "pending")
    LOG_KEY_BINDING_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    WITNESS_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    log_key_binding: bytes
    checkpoint: str
    items: _containers.RepeatedCompositeFieldContainer[UsageItem]
    witness_bindings: _containers.RepeatedScalarFieldContainer[bytes]
    quorum: int
    pending: int
    def __init__(self, log_key_binding: _Optional[bytes] = ..., checkpoint: _Optional[str] = ..., items: _Optional[_Iterable[_Union[UsageItem, _Mapping]]] = ..., witness_bindings: _Optional[_Iterable[bytes]] = ..., quorum: _Optional[int] = ..., pending: _Optional[int] = ...) -> None: ...

class ApprovalFiling(_message.Message):
    __slots__ = ("terms_json",)
    TERMS_JSON_FIELD_NUMBER: _ClassVar[int]
    terms_json: str
    def __init__(self, terms_json: _Optional[str] = ...) -> None: ...

class ApprovalInfo(_message.Message):
    __slots__ = ("approval_id", "source", "project", "status", "reason", "terms_json", "signed_json", "filed_by", "updated_at")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TERMS_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    source: str
    project: str
    status: str
    reason: str
    terms_json: str
    signed_json: str
    filed_by: str
    updated_at: float
    def __init__(self, approval_id: _Optional[str] = ..., source: _Optional[str] = ..., project: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., terms_json: _Optional[str] = ..., signed_json: _Optional[str] = ..., filed_by: _Optional[str] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ApprovalQuery(_message.Message):
    __slots__ = ("source", "project", "status")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    source: str
    project: str
    status: str
    def __init__(self, source: _Optional[str] = ..., project: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ApprovalList(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[ApprovalInfo]
    def __init__(self, approvals: _Optional[_Iterable[_Union[ApprovalInfo, _Mapping]]] = ...) -> None: ...

class ApprovalReport(_message.Message):
    __slots__ = ("approval_id", "status", "reason", "signed_json")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    status: str
    reason: str
    signed_json: str
    def __init__(self, approval_id: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., signed_json: _Optional[str] = ...) -> None: ...

class CatalogueQuery(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class CatalogueVersion(_message.Message):
    __slots__ = ("version", "catalogue_json", "sha256", "cause", "created_at", "latest")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_JSON_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    version: int
    catalogue_json: str
    sha256: str
    cause: str
    created_at: float
    latest: int
    def __init__(self, version: _Optional[int] = ..., catalogue_json: _Optional[str] = ..., sha256: _Optional[str] = ..., cause: _Optional[str] = ..., created_at: _Optional[float] = ..., latest: _Optional[int] = ...) -> None: ...

class ExpansionFiling(_message.Message):
    __slots__ = ("source", "item", "category", "description", "reason", "intended_use", "requested_for")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INTENDED_USE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FOR_FIELD_NUMBER: _ClassVar[int]
    source: str
    item: str
    category: str
    description: str
    reason: str
    intended_use: str
    requested_for: str
    def __init__(self, source: _Optional[str] = ..., item: _Optional[str] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., reason: _Optional[str] = ..., intended_use: _Optional[str] = ..., requested_for: _Optional[str] = ...) -> None: ...

class ExpansionInfo(_message.Message):
    __slots__ = ("request_id", "source", "item", "category", "description", "reason", "intended_use", "requested_by", "status", "decision_reason", "condition", "filed_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INTENDED_USE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    source: str
    item: str
    category: str
    description: str
    reason: str
    intended_use: str
    requested_by: str
    status: str
    decision_reason: str
    condition: str
    filed_at: float
    def __init__(self, request_id: _Optional[str] = ..., source: _Optional[str] = ..., item: _Optional[str] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., reason: _Optional[str] = ..., intended_use: _Optional[str] = ..., requested_by: _Optional[str] = ..., status: _Optional[str] = ..., decision_reason: _Optional[str] = ..., condition: _Optional[str] = ..., filed_at: _Optional[float] = ...) -> None: ...

class ExpansionQuery(_message.Message):
    __slots__ = ("source", "status")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    source: str
    status: str
    def __init__(self, source: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ExpansionList(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ExpansionInfo]
    def __init__(self, requests: _Optional[_Iterable[_Union[ExpansionInfo, _Mapping]]] = ...) -> None: ...

class ExpansionDecision(_message.Message):
    __slots__ = ("request_id", "accept", "reason", "condition")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    accept: bool
    reason: str
    condition: str
    def __init__(self, request_id: _Optional[str] = ..., accept: bool = ..., reason: _Optional[str] = ..., condition: _Optional[str] = ...) -> None: ...

class ModelRegistration(_message.Message):
    __slots__ = ("name", "algorithm", "parties", "params_json", "metrics_json", "lineage_json", "model_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    algorithm: str
    parties: _containers.RepeatedScalarFieldContainer[str]
    params_json: str
    metrics_json: str
    lineage_json: str
    model_id: str
    def __init__(self, name: _Optional[str] = ..., algorithm: _Optional[str] = ..., parties: _Optional[_Iterable[str]] = ..., params_json: _Optional[str] = ..., metrics_json: _Optional[str] = ..., lineage_json: _Optional[str] = ..., model_id: _Optional[str] = ...) -> None: ...

class ModelEntry(_message.Message):
    __slots__ = ("model_id", "version", "name", "algorithm", "job_id", "parties", "params_json", "metrics_json", "lineage_json", "created_at")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    version: int
    name: str
    algorithm: str
    job_id: str
    parties: _containers.RepeatedScalarFieldContainer[str]
    params_json: str
    metrics_json: str
    lineage_json: str
    created_at: float
    def __init__(self, model_id: _Optional[str] = ..., version: _Optional[int] = ..., name: _Optional[str] = ..., algorithm: _Optional[str] = ..., job_id: _Optional[str] = ..., parties: _Optional[_Iterable[str]] = ..., params_json: _Optional[str] = ..., metrics_json: _Optional[str] = ..., lineage_json: _Optional[str] = ..., created_at: _Optional[float] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ModelList(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelEntry]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelEntry, _Mapping]]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("address", "description")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    address: str
    description: NodeDescription
    def __init__(self, address: _Optional[str] = ..., description: _Optional[_Union[NodeDescription, _Mapping]] = ...) -> None: ...

class RegisterReply(_message.Message):
    __slots__ = ("party",)
    PARTY_FIELD_NUMBER: _ClassVar[int]
    party: str
    def __init__(self, party: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("probe",)
    PROBE_FIELD_NUMBER: _ClassVar[int]
    probe: bool
    def __init__(self, probe: bool = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("party", "address", "description", "registered_at", "last_seen", "answering", "probe_error")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ANSWERING_FIELD_NUMBER: _ClassVar[int]
    PROBE_ERROR_FIELD_NUMBER: _ClassVar[int]
    party: str
    address: str
    description: NodeDescription
    registered_at: float
    last_seen: float
    answering: bool
    probe_error: str
    def __init__(self, party: _Optional[str] = ..., address: _Optional[str] = ..., description: _Optional[_Union[NodeDescription, _Mapping]] = ..., registered_at: _Optional[float] = ..., last_seen: _Optional[float] = ..., answering: bool = ..., probe_error: _Optional[str] = ...) -> None: ...

class NodeList(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("spec_toml",)
    SPEC_TOML_FIELD_NUMBER: _ClassVar[int]
    spec_toml: str
    def __init__(self, spec_toml: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class StageStatus(_message.Message):
    __slots__ = ("stage", "state", "results", "error", "attempts", "resumed_from")
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FROM_FIELD_NUMBER: _ClassVar[int]
    stage: str
    state: str
    results: _containers.ScalarMap[str, str]
    error: str
    attempts: int
    resumed_from: int
    def __init__(self, stage: _Optional[str] = ..., state: _Optional[str] = ..., results: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., resumed_from: _Optional[int] = ...) -> None: ...

class JobStatus(_message.Message):
    __slots__ = ("job_id", "state", "stages", "error", "name", "created_at", "updated_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: str
    stages: _containers.RepeatedCompositeFieldContainer[StageStatus]
    error: str
    name: str
    created_at: float
    updated_at: float
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[StageStatus, _Mapping]]] = ..., error: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "party", "stage", "message", "fraction", "status")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    party: str
    stage: str
    message: str
    fraction: float
    status: JobStatus
    def __init__(self, job_id: _Optional[str] = ..., party: _Optional[str] = ..., stage: _Optional[str] = ..., message: _Optional[str] = ..., fraction: _Optional[float] = ..., status: _Optional[_Union[JobStatus, _Mapping]] = ...) -> None: ...
