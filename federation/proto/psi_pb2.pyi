from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PsiHello(_message.Message):
    __slots__ = ("version", "suite", "role", "set_size", "batch_size", "leader_learns", "follower_learns")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SET_SIZE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEADER_LEARNS_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_LEARNS_FIELD_NUMBER: _ClassVar[int]
    version: int
    suite: str
    role: str
    set_size: int
    batch_size: int
    leader_learns: bool
    follower_learns: bool
    def __init__(self, version: _Optional[int] = ..., suite: _Optional[str] = ..., role: _Optional[str] = ..., set_size: _Optional[int] = ..., batch_size: _Optional[int] = ..., leader_learns: bool = ..., follower_learns: bool = ...) -> None: ...

class PointBatch(_message.Message):
    __slots__ = ("index", "count", "points")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    count: int
    points: bytes
    def __init__(self, index: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiSummary(_message.Message):
    __slots__ = ("intersection_size",)
    INTERSECTION_SIZE_FIELD_NUMBER: _ClassVar[int]
    intersection_size: int
    def __init__(self, intersection_size: _Optional[int] = ...) -> None: ...
