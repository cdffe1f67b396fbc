from federation.proto import he_pb2 as _he_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LabelSetup(_message.Message):
    __slots__ = ("format_version", "key", "rows", "chunks", "share_woe")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SHARE_WOE_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    key: _he_pb2.PublicKey
    rows: int
    chunks: int
    share_woe: bool
    def __init__(self, format_version: _Optional[int] = ..., key: _Optional[_Union[_he_pb2.PublicKey, _Mapping]] = ..., rows: _Optional[int] = ..., chunks: _Optional[int] = ..., share_woe: bool = ...) -> None: ...

class LabelChunk(_message.Message):
    __slots__ = ("index", "labels")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    index: int
    labels: _he_pb2.CipherVector
    def __init__(self, index: _Optional[int] = ..., labels: _Optional[_Union[_he_pb2.CipherVector, _Mapping]] = ...) -> None: ...

class VariableCounts(_message.Message):
    __slots__ = ("variable_id", "name", "category", "totals", "has_missing")
    VARIABLE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    HAS_MISSING_FIELD_NUMBER: _ClassVar[int]
    variable_id: str
    name: str
    category: str
    totals: _containers.RepeatedScalarFieldContainer[int]
    has_missing: bool
    def __init__(self, variable_id: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., totals: _Optional[_Iterable[int]] = ..., has_missing: bool = ...) -> None: ...

class BinCounts(_message.Message):
    __slots__ = ("variables", "events", "noised")
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NOISED_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedCompositeFieldContainer[VariableCounts]
    events: _he_pb2.CipherVector
    noised: bool
    def __init__(self, variables: _Optional[_Iterable[_Union[VariableCounts, _Mapping]]] = ..., events: _Optional[_Union[_he_pb2.CipherVector, _Mapping]] = ..., noised: bool = ...) -> None: ...

class VariableOutcome(_message.Message):
    __slots__ = ("variable_id", "groups", "woe", "iv", "rank", "selected")
    VARIABLE_ID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    WOE_FIELD_NUMBER: _ClassVar[int]
    IV_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    variable_id: str
    groups: _containers.RepeatedScalarFieldContainer[int]
    woe: _containers.RepeatedScalarFieldContainer[float]
    iv: float
    rank: int
    selected: bool
    def __init__(self, variable_id: _Optional[str] = ..., groups: _Optional[_Iterable[int]] = ..., woe: _Optional[_Iterable[float]] = ..., iv: _Optional[float] = ..., rank: _Optional[int] = ..., selected: bool = ...) -> None: ...

class RankEntry(_message.Message):
    __slots__ = ("variable", "iv", "rank", "selected", "own")
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    IV_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    OWN_FIELD_NUMBER: _ClassVar[int]
    variable: str
    iv: float
    rank: int
    selected: bool
    own: bool
    def __init__(self, variable: _Optional[str] = ..., iv: _Optional[float] = ..., rank: _Optional[int] = ..., selected: bool = ..., own: bool = ...) -> None: ...

class BinningOutcome(_message.Message):
    __slots__ = ("variables", "ranking")
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedCompositeFieldContainer[VariableOutcome]
    ranking: _containers.RepeatedCompositeFieldContainer[RankEntry]
    def __init__(self, variables: _Optional[_Iterable[_Union[VariableOutcome, _Mapping]]] = ..., ranking: _Optional[_Iterable[_Union[RankEntry, _Mapping]]] = ...) -> None: ...

class PointsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PartyPoints(_message.Message):
    __slots__ = ("points", "categories", "lost", "found", "mean_points", "spread_points", "snapshot")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    MEAN_POINTS_FIELD_NUMBER: _ClassVar[int]
    SPREAD_POINTS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedScalarFieldContainer[float]
    categories: _containers.RepeatedScalarFieldContainer[str]
    lost: _containers.RepeatedScalarFieldContainer[float]
    found: _containers.RepeatedScalarFieldContainer[bool]
    mean_points: float
    spread_points: float
    snapshot: str
    def __init__(self, points: _Optional[_Iterable[float]] = ..., categories: _Optional[_Iterable[str]] = ..., lost: _Optional[_Iterable[float]] = ..., found: _Optional[_Iterable[bool]] = ..., mean_points: _Optional[float] = ..., spread_points: _Optional[float] = ..., snapshot: _Optional[str] = ...) -> None: ...
