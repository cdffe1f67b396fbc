from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RowAlignment(_message.Message):
    __slots__ = ("n_rows", "positions")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    positions: bytes
    def __init__(self, n_rows: _Optional[int] = ..., positions: _Optional[bytes] = ...) -> None: ...

class SplitAlignment(_message.Message):
    __slots__ = ("train", "holdout")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    train: RowAlignment
    holdout: RowAlignment
    def __init__(self, train: _Optional[_Union[RowAlignment, _Mapping]] = ..., holdout: _Optional[_Union[RowAlignment, _Mapping]] = ...) -> None: ...

class ContributionPlan(_message.Message):
    __slots__ = ("excluded",)
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    excluded: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, excluded: _Optional[_Iterable[str]] = ...) -> None: ...
