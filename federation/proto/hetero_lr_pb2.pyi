from federation.proto import he_pb2 as _he_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainPlan(_message.Message):
    __slots__ = ("format_version", "encrypted", "rows", "batch_size", "max_epochs", "shuffle", "learning_rate", "schedule", "decay", "momentum", "l1", "l2", "mask_bound")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    DECAY_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    L1_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    MASK_BOUND_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    encrypted: bool
    rows: int
    batch_size: int
    max_epochs: int
    shuffle: bool
    learning_rate: float
    schedule: str
    decay: float
    momentum: float
    l1: float
    l2: float
    mask_bound: float
    def __init__(self, format_version: _Optional[int] = ..., encrypted: bool = ..., rows: _Optional[int] = ..., batch_size: _Optional[int] = ..., max_epochs: _Optional[int] = ..., shuffle: bool = ..., learning_rate: _Optional[float] = ..., schedule: _Optional[str] = ..., decay: _Optional[float] = ..., momentum: _Optional[float] = ..., l1: _Optional[float] = ..., l2: _Optional[float] = ..., mask_bound: _Optional[float] = ...) -> None: ...

class CkksSetup(_message.Message):
    __slots__ = ("context", "refused")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    context: _he_pb2.CkksPublicContext
    refused: str
    def __init__(self, context: _Optional[_Union[_he_pb2.CkksPublicContext, _Mapping]] = ..., refused: _Optional[str] = ...) -> None: ...

class Acceptance(_message.Message):
    __slots__ = ("accepted", "reason")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    def __init__(self, accepted: bool = ..., reason: _Optional[str] = ...) -> None: ...

class Go(_message.Message):
    __slots__ = ("proceed", "reason")
    PROCEED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    proceed: bool
    reason: str
    def __init__(self, proceed: bool = ..., reason: _Optional[str] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ("chunks", "values", "length")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedScalarFieldContainer[bytes]
    values: _containers.RepeatedScalarFieldContainer[float]
    length: int
    def __init__(self, chunks: _Optional[_Iterable[bytes]] = ..., values: _Optional[_Iterable[float]] = ..., length: _Optional[int] = ...) -> None: ...

class EpochStart(_message.Message):
    __slots__ = ("epoch", "order")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    order: bytes
    def __init__(self, epoch: _Optional[int] = ..., order: _Optional[bytes] = ...) -> None: ...

class PartialPredictor(_message.Message):
    __slots__ = ("u",)
    U_FIELD_NUMBER: _ClassVar[int]
    u: Vector
    def __init__(self, u: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class Residual(_message.Message):
    __slots__ = ("d",)
    D_FIELD_NUMBER: _ClassVar[int]
    d: Vector
    def __init__(self, d: _Optional[_Union[Vector, _Mapping]] = ...) -> None: ...

class MaskedColumns(_message.Message):
    __slots__ = ("columns",)
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, columns: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ...) -> None: ...

class MaskedSums(_message.Message):
    __slots__ = ("sums",)
    SUMS_FIELD_NUMBER: _ClassVar[int]
    sums: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, sums: _Optional[_Iterable[float]] = ...) -> None: ...

class EpochEnd(_message.Message):
    __slots__ = ("epoch", "stop")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    stop: bool
    def __init__(self, epoch: _Optional[int] = ..., stop: bool = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("first_row", "rows")
    FIRST_ROW_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    first_row: int
    rows: int
    def __init__(self, first_row: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class PartialScores(_message.Message):
    __slots__ = ("scores",)
    SCORES_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, scores: _Optional[_Iterable[float]] = ...) -> None: ...

class PartyModel(_message.Message):
    __slots__ = ("format_version", "variables", "weights", "intercept", "has_intercept")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    HAS_INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    variables: _containers.RepeatedScalarFieldContainer[str]
    weights: _containers.RepeatedScalarFieldContainer[float]
    intercept: float
    has_intercept: bool
    def __init__(self, format_version: _Optional[int] = ..., variables: _Optional[_Iterable[str]] = ..., weights: _Optional[_Iterable[float]] = ..., intercept: _Optional[float] = ..., has_intercept: bool = ...) -> None: ...
