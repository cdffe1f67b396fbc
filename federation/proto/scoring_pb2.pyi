from federation.proto import secureboost_pb2 as _secureboost_pb2
from federation.proto import woe_pb2 as _woe_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MaskRequest(_message.Message):
    __slots__ = ("model_id", "ids", "use_id", "institution", "purpose")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    USE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    use_id: str
    institution: str
    purpose: str
    def __init__(self, model_id: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., use_id: _Optional[str] = ..., institution: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class MaskReply(_message.Message):
    __slots__ = ("masks", "known", "defaults", "split_items", "snapshot")
    MASKS_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    masks: _secureboost_pb2.LeafMasks
    known: bytes
    defaults: _secureboost_pb2.LeafMasks
    split_items: _containers.RepeatedCompositeFieldContainer[SplitItem]
    snapshot: str
    def __init__(self, masks: _Optional[_Union[_secureboost_pb2.LeafMasks, _Mapping]] = ..., known: _Optional[bytes] = ..., defaults: _Optional[_Union[_secureboost_pb2.LeafMasks, _Mapping]] = ..., split_items: _Optional[_Iterable[_Union[SplitItem, _Mapping]]] = ..., snapshot: _Optional[str] = ...) -> None: ...

class SplitItem(_message.Message):
    __slots__ = ("split_id", "item", "description")
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    split_id: int
    item: str
    description: str
    def __init__(self, split_id: _Optional[int] = ..., item: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class PointsRequest(_message.Message):
    __slots__ = ("model_id", "ids", "use_id", "institution", "purpose")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    USE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    use_id: str
    institution: str
    purpose: str
    def __init__(self, model_id: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., use_id: _Optional[str] = ..., institution: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class DecisionsRequest(_message.Message):
    __slots__ = ("model_id", "have_snapshot")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    HAVE_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    have_snapshot: str
    def __init__(self, model_id: _Optional[str] = ..., have_snapshot: _Optional[str] = ...) -> None: ...

class DecisionChunk(_message.Message):
    __slots__ = ("snapshot", "rows_total", "ids", "masks", "defaults", "split_items", "approval_id", "valid_until", "institutions", "institution_kinds", "unchanged", "last", "points", "absent", "linear", "linear_absent")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    ROWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    MASKS_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    INSTITUTIONS_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_KINDS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    ABSENT_FIELD_NUMBER: _ClassVar[int]
    LINEAR_FIELD_NUMBER: _ClassVar[int]
    LINEAR_ABSENT_FIELD_NUMBER: _ClassVar[int]
    snapshot: str
    rows_total: int
    ids: _containers.RepeatedScalarFieldContainer[str]
    masks: _secureboost_pb2.LeafMasks
    defaults: _secureboost_pb2.LeafMasks
    split_items: _containers.RepeatedCompositeFieldContainer[SplitItem]
    approval_id: str
    valid_until: float
    institutions: _containers.RepeatedScalarFieldContainer[str]
    institution_kinds: _containers.RepeatedScalarFieldContainer[str]
    unchanged: bool
    last: bool
    points: _woe_pb2.PartyPoints
    absent: _woe_pb2.PartyPoints
    linear: LinearReply
    linear_absent: LinearReply
    def __init__(self, snapshot: _Optional[str] = ..., rows_total: _Optional[int] = ..., ids: _Optional[_Iterable[str]] = ..., masks: _Optional[_Union[_secureboost_pb2.LeafMasks, _Mapping]] = ..., defaults: _Optional[_Union[_secureboost_pb2.LeafMasks, _Mapping]] = ..., split_items: _Optional[_Iterable[_Union[SplitItem, _Mapping]]] = ..., approval_id: _Optional[str] = ..., valid_until: _Optional[float] = ..., institutions: _Optional[_Iterable[str]] = ..., institution_kinds: _Optional[_Iterable[str]] = ..., unchanged: bool = ..., last: bool = ..., points: _Optional[_Union[_woe_pb2.PartyPoints, _Mapping]] = ..., absent: _Optional[_Union[_woe_pb2.PartyPoints, _Mapping]] = ..., linear: _Optional[_Union[LinearReply, _Mapping]] = ..., linear_absent: _Optional[_Union[LinearReply, _Mapping]] = ...) -> None: ...

class LinearReply(_message.Message):
    __slots__ = ("scores", "known", "training_mean", "training_spread", "items", "top_item", "snapshot")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    TRAINING_MEAN_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SPREAD_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOP_ITEM_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedScalarFieldContainer[float]
    known: bytes
    training_mean: float
    training_spread: float
    items: _containers.RepeatedCompositeFieldContainer[SplitItem]
    top_item: _containers.RepeatedScalarFieldContainer[int]
    snapshot: str
    def __init__(self, scores: _Optional[_Iterable[float]] = ..., known: _Optional[bytes] = ..., training_mean: _Optional[float] = ..., training_spread: _Optional[float] = ..., items: _Optional[_Iterable[_Union[SplitItem, _Mapping]]] = ..., top_item: _Optional[_Iterable[int]] = ..., snapshot: _Optional[str] = ...) -> None: ...
