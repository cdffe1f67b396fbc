"""Encryption off: the same protocol on plain integers (for tests, and for data the policy lets travel).

Entries are the exact (G, H) integer sums kept as two int64 arrays, (entries, classes) for softmax (sums fit
by construction of the layout); packing uses the very same `PackingLayout.pack` as the encrypted path, so both give identical
decoded sums and hence identical trees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.secureboost.cipher import GradientEncryptor, HistogramEvaluator, segment_lengths
from models.secureboost.errors import ProtocolError
from models.secureboost.fixed_point import PackingLayout

PLAIN_SCHEME = "plain"
# Mirrors a 2048-bit Paillier key, so the plain run packs and pages messages like the encrypted one.
PLAIN_CAPACITY_BITS = 2046
# One serialised row pair: signed, up to 62 gradient bits above 62 hessian bits.
_PAIR_BYTES = 16


def _entry_bytes(layout: PackingLayout) -> int:
    # A softmax row holds one slot per class; a binary row keeps the fixed 16 bytes.
    return _PAIR_BYTES if layout.classes == 1 else (layout.entry_bits + 8) // 8


@dataclass(frozen=True)
class PlainVector:
    """Gradient and hessian sums as int64 arrays of equal length."""

    G: np.ndarray
    H: np.ndarray


def _packed_bytes(capacity_bits: int) -> int:
    return (capacity_bits + 8) // 8


class PlainEncryptor(GradientEncryptor):
    """Active side of the plain backend: serialises pair integers as they are."""

    scheme = PLAIN_SCHEME

    def __init__(self, capacity_bits: int = PLAIN_CAPACITY_BITS) -> None:
        self.capacity_bits = capacity_bits
        self.value_bytes = _PAIR_BYTES
        self.packed_bytes = _packed_bytes(capacity_bits)

    def public_bytes(self) -> bytes:
        return b""

    def encrypt(self, pairs: Sequence[int]) -> bytes:
        width = self.value_bytes
        return b"".join(int(v).to_bytes(width, "big", signed=True) for v in pairs)

    def use_layout(self, layout: PackingLayout) -> None:
        """Size serialised entries for this tree's layout (softmax rows are wider than a pair)."""
        self.value_bytes = _entry_bytes(layout)

    def decrypt(self, data: bytes, count: int) -> list[int]:
        width = self.packed_bytes
        if len(data) != width * count:
            raise ProtocolError("packed bytes", width * count, len(data))
        return [int.from_bytes(data[i * width:(i + 1) * width], "big", signed=True) for i in range(count)]


class PlainEvaluator(HistogramEvaluator):
    """Passive side of the plain backend: int64 arithmetic, exact."""

    scheme = PLAIN_SCHEME

    def __init__(self, capacity_bits: int = PLAIN_CAPACITY_BITS) -> None:
        self.capacity_bits = capacity_bits
        self.value_bytes = _PAIR_BYTES
        self.packed_bytes = _packed_bytes(capacity_bits)

    def from_pairs(self, G: np.ndarray, H: np.ndarray) -> PlainVector:
        """Wrap already-encoded sums (the active party's own features never leave it)."""
        return PlainVector(np.asarray(G, dtype=np.int64), np.asarray(H, dtype=np.int64))

    def load(self, data: bytes, count: int, layout: PackingLayout) -> PlainVector:
        width = _entry_bytes(layout)
        if len(data) != count * width:
            raise ProtocolError("plain vector bytes", count * width, len(data))
        values = [int.from_bytes(data[i * width:(i + 1) * width], "big", signed=True) for i in range(count)]
        if layout.classes == 1:
            G = np.empty(count, dtype=np.int64)
            H = np.empty(count, dtype=np.int64)
            for i, v in enumerate(values):
                G[i], H[i] = layout.unpair(v)
            return PlainVector(G, H)
        return PlainVector(*_unpack_rows(layout, values))

    def concat(self, parts: Sequence[PlainVector]) -> PlainVector:
        if not parts:
            return PlainVector(np.empty(0, np.int64), np.empty(0, np.int64))
        return PlainVector(np.concatenate([p.G for p in parts]), np.concatenate([p.H for p in parts]))

    def size(self, vector: PlainVector) -> int:
        return int(vector.G.shape[0])

    def bucket_sum(self, vector: PlainVector, positions: np.ndarray, buckets: np.ndarray,
                   n_buckets: int) -> PlainVector:
        G = np.zeros((n_buckets, *vector.G.shape[1:]), dtype=np.int64)
        H = np.zeros((n_buckets, *vector.H.shape[1:]), dtype=np.int64)
        np.add.at(G, buckets, vector.G[positions])
        np.add.at(H, buckets, vector.H[positions])
        return PlainVector(G, H)

    def take(self, vector: PlainVector, index: np.ndarray) -> PlainVector:
        return PlainVector(vector.G[index], vector.H[index])

    def add(self, a: PlainVector, b: PlainVector) -> PlainVector:
        return PlainVector(a.G + b.G, a.H + b.H)

    def sub(self, a: PlainVector, b: PlainVector) -> PlainVector:
        return PlainVector(a.G - b.G, a.H - b.H)

    def segment_cumsum(self, vector: PlainVector, starts: np.ndarray) -> PlainVector:
        lengths = segment_lengths(starts, vector.G.shape[0])
        return PlainVector(_segment_cumsum(vector.G, starts, lengths), _segment_cumsum(vector.H, starts, lengths))

    def pack(self, vector: PlainVector, layout: PackingLayout) -> bytes:
        # One slot per pair, a softmax entry's classes side by side: the layout of the encrypted path.
        pairs = layout.pairs(vector.G.reshape(-1), vector.H.reshape(-1))
        width, step = self.packed_bytes, layout.entries * layout.classes
        out = bytearray()
        for i in range(0, len(pairs), step):
            out += layout.pack(pairs[i:i + step]).to_bytes(width, "big", signed=True)
        return bytes(out)


def _unpack_rows(layout: PackingLayout, values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Softmax rows, one entry each, into (rows, classes) gradient and hessian arrays."""
    k = layout.classes
    G = np.empty((len(values), k), dtype=np.int64)
    H = np.empty((len(values), k), dtype=np.int64)
    for i, v in enumerate(values):
        for c, slot in enumerate(layout.unpack(v, k)):
            G[i, c], H[i, c] = layout.unpair(slot)
    return G, H


def _segment_cumsum(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    total = np.cumsum(x, axis=0, dtype=np.int64)
    shape = (-1,) + (1,) * (x.ndim - 1)
    before = np.where((starts > 0).reshape(shape), total[np.maximum(starts - 1, 0)], 0)
    return total - np.repeat(before, lengths, axis=0)
