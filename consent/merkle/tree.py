"""Tree shape: perfect nodes, valid subtrees, the compact frontier, and an in-memory node store.

A perfect node `NodeId(level, index)` is the root of the complete subtree over leaves
[index * 2^level, (index + 1) * 2^level). Every hash a proof needs is either a perfect node or the root
of a "valid subtree" [start, end) (start a multiple of the smallest power of two >= end - start), and the
latter is a right fold of the perfect nodes that cover it. So a log that stores its perfect nodes as leaves
arrive can answer any proof with O(log n) reads and never re-hashes the log.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from consent.merkle.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash


@dataclass(frozen=True, order=True, slots=True)
class NodeId:
    """A perfect node: level 0 are leaf hashes; level L index i covers leaves [i << L, (i + 1) << L)."""

    level: int
    index: int

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


class NodeReader(Protocol):
    """Where proof generation reads perfect-node hashes from (a database table, a list in memory)."""

    def node_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        """Return the hash of every requested node; a missing node is an error of the implementation."""
        ...


def bit_ceil(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def split_point(n: int) -> int:
    """RFC 9162 k: the largest power of two strictly smaller than n. Requires n > 1."""
    if n < 2:
        raise ValueError(f"split point needs at least 2 leaves, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


def is_valid_subtree(start: int, end: int) -> bool:
    """A non-empty [start, end) whose start is a multiple of bit_ceil(end - start): its root is a tree node."""
    return 0 <= start < end and start % bit_ceil(end - start) == 0


def perfect_cover(start: int, end: int) -> list[NodeId]:
    """The perfect nodes covering [start, end), left to right, each as large as alignment allows."""
    if not 0 <= start <= end:
        raise ValueError(f"bad range [{start}, {end})")
    cover = []
    while start < end:
        # The largest aligned power of two that starts at `start` and fits before `end`.
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        cover.append(NodeId(level, start >> level))
        start += 1 << level
    return cover


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Root of a valid subtree from its perfect cover: H(c0, H(c1, ... H(c[-2], c[-1])))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def subtree_root(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[start:end]) for a valid subtree, from the perfect nodes in `nodes`."""
    if not is_valid_subtree(start, end):
        raise ValueError(f"[{start}, {end}) is not a valid subtree")
    return fold_right([nodes[node] for node in perfect_cover(start, end)])


def read_subtree_roots(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    """Roots of several valid subtrees with ONE batched read of the perfect nodes they need."""
    covers = [perfect_cover(start, end) for start, end in ranges]
    wanted = {node for cover in covers for node in cover}
    nodes = reader.node_hashes(wanted) if wanted else {}
    missing = wanted.difference(nodes)
    if missing:
        raise LookupError(f"node store lacks {len(missing)} nodes, e.g. {min(missing)}")
    return [fold_right([nodes[node] for node in cover]) for cover in covers]


def root_of_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, bottom-up in O(n) hashes (no recursion)."""
    frontier = Frontier()
    for h in hashes:
        frontier.append(h)
    return frontier.root()


class Frontier:
    """The compact range of a log prefix: roots of the perfect subtrees covering [0, size), largest first.

    Appending a leaf merges equal-sized subtrees like binary addition; each merge is a new perfect node that
    the caller stores. At most 64 hashes, so it fits in one database row.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes, got {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("frontier hashes must be 32 bytes")
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        """Rebuild from `to_bytes()` (hashes concatenated)."""
        if len(packed) % HASH_SIZE:
            raise ValueError("packed frontier length is not a multiple of 32")
        return cls(size, [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Add one leaf hash; return the perfect nodes of level >= 1 this completes (at most 63)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        index, current, level = self._size, leaf, 0
        completed = []
        while (index >> level) & 1:
            current = node_hash(self._hashes.pop(), current)
            level += 1
            completed.append((NodeId(level, index >> level), current))
        self._hashes.append(current)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the prefix: the right fold of the frontier (EMPTY_ROOT when empty)."""
        return fold_right(self._hashes)


class MemoryTree:
    """All perfect nodes of a log held in lists; a `NodeReader` for tests and small local logs."""

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for entry in entries:
            self.append(entry)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, entry: bytes) -> int:
        """Hash and add an entry; return its index."""
        return self.append_hash(leaf_hash(entry))

    def append_hash(self, leaf: bytes) -> int:
        """Add an already-hashed leaf and complete the perfect nodes above it; return its index."""
        index = len(self._levels[0])
        self._levels[0].append(leaf)
        level, position = 0, index
        while position & 1:
            parent = node_hash(self._levels[level][position - 1], self._levels[level][position])
            level, position = level + 1, position >> 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(parent)
        return index

    def node_hashes(self, ids: Collection[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self._levels[node.level][node.index] for node in ids}

    def leaf_hash(self, index: int) -> bytes:
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} outside [0, {self.size}]")
        return fold_right([self._levels[n.level][n.index] for n in perfect_cover(0, size)])
