from federation.proto import hetero_lr_pb2 as _hetero_lr_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoredVariable(_message.Message):
    __slots__ = ("name", "variable_id", "category", "cuts", "has_missing", "woe", "iv", "rank", "selected", "points", "mean", "scale")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CUTS_FIELD_NUMBER: _ClassVar[int]
    HAS_MISSING_FIELD_NUMBER: _ClassVar[int]
    WOE_FIELD_NUMBER: _ClassVar[int]
    IV_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    name: str
    variable_id: str
    category: str
    cuts: _containers.RepeatedScalarFieldContainer[float]
    has_missing: bool
    woe: _containers.RepeatedScalarFieldContainer[float]
    iv: float
    rank: int
    selected: bool
    points: _containers.RepeatedScalarFieldContainer[float]
    mean: float
    scale: float
    def __init__(self, name: _Optional[str] = ..., variable_id: _Optional[str] = ..., category: _Optional[str] = ..., cuts: _Optional[_Iterable[float]] = ..., has_missing: bool = ..., woe: _Optional[_Iterable[float]] = ..., iv: _Optional[float] = ..., rank: _Optional[int] = ..., selected: bool = ..., points: _Optional[_Iterable[float]] = ..., mean: _Optional[float] = ..., scale: _Optional[float] = ...) -> None: ...

class StoredPart(_message.Message):
    __slots__ = ("format_version", "kind", "party", "variables", "lr", "on_woe", "pdo", "base_score", "base_odds", "base_points", "hosts", "training_means", "training_spread")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    ON_WOE_FIELD_NUMBER: _ClassVar[int]
    PDO_FIELD_NUMBER: _ClassVar[int]
    BASE_SCORE_FIELD_NUMBER: _ClassVar[int]
    BASE_ODDS_FIELD_NUMBER: _ClassVar[int]
    BASE_POINTS_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_MEANS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SPREAD_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    kind: str
    party: str
    variables: _containers.RepeatedCompositeFieldContainer[StoredVariable]
    lr: _hetero_lr_pb2.PartyModel
    on_woe: bool
    pdo: float
    base_score: float
    base_odds: float
    base_points: float
    hosts: _containers.RepeatedScalarFieldContainer[str]
    training_means: _containers.RepeatedScalarFieldContainer[float]
    training_spread: float
    def __init__(self, format_version: _Optional[int] = ..., kind: _Optional[str] = ..., party: _Optional[str] = ..., variables: _Optional[_Iterable[_Union[StoredVariable, _Mapping]]] = ..., lr: _Optional[_Union[_hetero_lr_pb2.PartyModel, _Mapping]] = ..., on_woe: bool = ..., pdo: _Optional[float] = ..., base_score: _Optional[float] = ..., base_odds: _Optional[float] = ..., base_points: _Optional[float] = ..., hosts: _Optional[_Iterable[str]] = ..., training_means: _Optional[_Iterable[float]] = ..., training_spread: _Optional[float] = ...) -> None: ...
