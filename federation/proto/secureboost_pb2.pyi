from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainRows(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainSetup(_message.Message):
    __slots__ = ("format_version", "scheme", "public_key", "capacity_bits", "n_rows", "n_valid_rows", "n_trees", "max_depth", "bins", "colsample_bytree", "seed")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BITS_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_VALID_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_TREES_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    COLSAMPLE_BYTREE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    scheme: str
    public_key: bytes
    capacity_bits: int
    n_rows: int
    n_valid_rows: int
    n_trees: int
    max_depth: int
    bins: int
    colsample_bytree: float
    seed: int
    def __init__(self, format_version: _Optional[int] = ..., scheme: _Optional[str] = ..., public_key: _Optional[bytes] = ..., capacity_bits: _Optional[int] = ..., n_rows: _Optional[int] = ..., n_valid_rows: _Optional[int] = ..., n_trees: _Optional[int] = ..., max_depth: _Optional[int] = ..., bins: _Optional[int] = ..., colsample_bytree: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...

class PackingLayout(_message.Message):
    __slots__ = ("fraction_bits", "hess_bits", "slot_bits", "slots", "classes")
    FRACTION_BITS_FIELD_NUMBER: _ClassVar[int]
    HESS_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    fraction_bits: int
    hess_bits: int
    slot_bits: int
    slots: int
    classes: int
    def __init__(self, fraction_bits: _Optional[int] = ..., hess_bits: _Optional[int] = ..., slot_bits: _Optional[int] = ..., slots: _Optional[int] = ..., classes: _Optional[int] = ...) -> None: ...

class TreeStart(_message.Message):
    __slots__ = ("tree", "rows", "n_values", "layout", "n_chunks", "value_bytes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    N_VALUES_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    rows: bytes
    n_values: int
    layout: PackingLayout
    n_chunks: int
    value_bytes: int
    def __init__(self, tree: _Optional[int] = ..., rows: _Optional[bytes] = ..., n_values: _Optional[int] = ..., layout: _Optional[_Union[PackingLayout, _Mapping]] = ..., n_chunks: _Optional[int] = ..., value_bytes: _Optional[int] = ...) -> None: ...

class VectorChunk(_message.Message):
    __slots__ = ("index", "count", "data")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    index: int
    count: int
    data: bytes
    def __init__(self, index: _Optional[int] = ..., count: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class NodePartition(_message.Message):
    __slots__ = ("node", "left")
    NODE_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    node: int
    left: bytes
    def __init__(self, node: _Optional[int] = ..., left: _Optional[bytes] = ...) -> None: ...

class DepthPlan(_message.Message):
    __slots__ = ("tree", "depth", "partitions", "build", "derive", "report")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    DERIVE_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    partitions: _containers.RepeatedCompositeFieldContainer[NodePartition]
    build: _containers.RepeatedScalarFieldContainer[int]
    derive: _containers.RepeatedScalarFieldContainer[int]
    report: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[NodePartition, _Mapping]]] = ..., build: _Optional[_Iterable[int]] = ..., derive: _Optional[_Iterable[int]] = ..., report: _Optional[_Iterable[int]] = ...) -> None: ...

class NodeCandidates(_message.Message):
    __slots__ = ("node", "count", "split_ids", "sums")
    NODE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    SUMS_FIELD_NUMBER: _ClassVar[int]
    node: int
    count: int
    split_ids: bytes
    sums: bytes
    def __init__(self, node: _Optional[int] = ..., count: _Optional[int] = ..., split_ids: _Optional[bytes] = ..., sums: _Optional[bytes] = ...) -> None: ...

class HistogramReply(_message.Message):
    __slots__ = ("tree", "depth", "value_bytes", "nodes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    value_bytes: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeCandidates]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., value_bytes: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeCandidates, _Mapping]]] = ...) -> None: ...

class ChosenSplit(_message.Message):
    __slots__ = ("node", "split_id")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    node: int
    split_id: int
    def __init__(self, node: _Optional[int] = ..., split_id: _Optional[int] = ...) -> None: ...

class SplitRequest(_message.Message):
    __slots__ = ("tree", "depth", "splits")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    splits: _containers.RepeatedCompositeFieldContainer[ChosenSplit]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[ChosenSplit, _Mapping]]] = ...) -> None: ...

class SplitReply(_message.Message):
    __slots__ = ("tree", "depth", "partitions")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    partitions: _containers.RepeatedCompositeFieldContainer[NodePartition]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[NodePartition, _Mapping]]] = ...) -> None: ...

class TreeEnd(_message.Message):
    __slots__ = ("tree", "internal")
    TREE_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    tree: int
    internal: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., internal: _Optional[_Iterable[int]] = ...) -> None: ...

class TreeVerdict(_message.Message):
    __slots__ = ("tree", "stop", "keep_trees")
    TREE_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    KEEP_TREES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    stop: bool
    keep_trees: int
    def __init__(self, tree: _Optional[int] = ..., stop: bool = ..., keep_trees: _Optional[int] = ...) -> None: ...

class TreeLeafMask(_message.Message):
    __slots__ = ("tree", "n_leaves", "bits")
    TREE_FIELD_NUMBER: _ClassVar[int]
    N_LEAVES_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    n_leaves: int
    bits: bytes
    def __init__(self, tree: _Optional[int] = ..., n_leaves: _Optional[int] = ..., bits: _Optional[bytes] = ...) -> None: ...

class LeafMasks(_message.Message):
    __slots__ = ("party", "n_rows", "trees")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    party: str
    n_rows: int
    trees: _containers.RepeatedCompositeFieldContainer[TreeLeafMask]
    def __init__(self, party: _Optional[str] = ..., n_rows: _Optional[int] = ..., trees: _Optional[_Iterable[_Union[TreeLeafMask, _Mapping]]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SplitNode(_message.Message):
    __slots__ = ("node", "owner", "split_id", "gain")
    NODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    GAIN_FIELD_NUMBER: _ClassVar[int]
    node: int
    owner: str
    split_id: int
    gain: float
    def __init__(self, node: _Optional[int] = ..., owner: _Optional[str] = ..., split_id: _Optional[int] = ..., gain: _Optional[float] = ...) -> None: ...

class LeafNode(_message.Message):
    __slots__ = ("node", "weight", "weights")
    NODE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    node: int
    weight: float
    weights: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, node: _Optional[int] = ..., weight: _Optional[float] = ..., weights: _Optional[_Iterable[float]] = ...) -> None: ...

class TreeModel(_message.Message):
    __slots__ = ("splits", "leaves")
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    splits: _containers.RepeatedCompositeFieldContainer[SplitNode]
    leaves: _containers.RepeatedCompositeFieldContainer[LeafNode]
    def __init__(self, splits: _Optional[_Iterable[_Union[SplitNode, _Mapping]]] = ..., leaves: _Optional[_Iterable[_Union[LeafNode, _Mapping]]] = ...) -> None: ...

class SplitRule(_message.Message):
    __slots__ = ("split_id", "tree", "node", "feature", "threshold", "missing_left")
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MISSING_LEFT_FIELD_NUMBER: _ClassVar[int]
    split_id: int
    tree: int
    node: int
    feature: str
    threshold: float
    missing_left: bool
    def __init__(self, split_id: _Optional[int] = ..., tree: _Optional[int] = ..., node: _Optional[int] = ..., feature: _Optional[str] = ..., threshold: _Optional[float] = ..., missing_left: bool = ...) -> None: ...

class TreeTopology(_message.Message):
    __slots__ = ("internal",)
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    internal: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, internal: _Optional[_Iterable[int]] = ...) -> None: ...

class PassivePart(_message.Message):
    __slots__ = ("format_version", "party", "features", "trees", "rules")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    party: str
    features: _containers.RepeatedScalarFieldContainer[str]
    trees: _containers.RepeatedCompositeFieldContainer[TreeTopology]
    rules: _containers.RepeatedCompositeFieldContainer[SplitRule]
    def __init__(self, format_version: _Optional[int] = ..., party: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., trees: _Optional[_Iterable[_Union[TreeTopology, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[SplitRule, _Mapping]]] = ...) -> None: ...

class ActivePart(_message.Message):
    __slots__ = ("format_version", "party", "objective", "base_margin", "parties", "trees", "own", "params_json")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BASE_MARGIN_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    OWN_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    party: str
    objective: str
    base_margin: float
    parties: _containers.RepeatedScalarFieldContainer[str]
    trees: _containers.RepeatedCompositeFieldContainer[TreeModel]
    own: PassivePart
    params_json: str
    def __init__(self, format_version: _Optional[int] = ..., party: _Optional[str] = ..., objective: _Optional[str] = ..., base_margin: _Optional[float] = ..., parties: _Optional[_Iterable[str]] = ..., trees: _Optional[_Iterable[_Union[TreeModel, _Mapping]]] = ..., own: _Optional[_Union[PassivePart, _Mapping]] = ..., params_json: _Optional[str] = ...) -> None: ...

class ModelFile(_message.Message):
    __slots__ = ("kind", "format_version", "payload", "sha256")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    kind: str
    format_version: int
    payload: bytes
    sha256: bytes
    def __init__(self, kind: _Optional[str] = ..., format_version: _Optional[int] = ..., payload: _Optional[bytes] = ..., sha256: _Optional[bytes] = ...) -> None: ...
