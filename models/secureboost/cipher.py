"""The cipher adapter: what SecureBoost needs from an additively homomorphic scheme, split by role.

The active party holds a `GradientEncryptor` (secret key: encrypts row pairs, decrypts packed sums).
A passive party holds only a `HistogramEvaluator` built from public material: it can add, subtract, sum by
bucket and pack, never decrypt. Backends: plain (encryption off, same code path, exact integers) and
Paillier. Vectors are opaque to the protocol code; only the backend knows what an entry is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.secureboost.fixed_point import PackingLayout

Vector = Any  # a backend's opaque vector of (encrypted) pair sums


class GradientEncryptor(ABC):
    """Active side: encrypt per-row pair integers, decrypt packed sums."""

    scheme: str
    capacity_bits: int   # any packed |P| < 2^capacity_bits decrypts exactly
    value_bytes: int     # width of one serialised vector entry
    packed_bytes: int    # width of one packed value in a histogram reply

    @abstractmethod
    def public_bytes(self) -> bytes:
        """Public material a passive party needs to build its evaluator."""

    @abstractmethod
    def encrypt(self, pairs: Sequence[int]) -> bytes:
        """Encrypt signed pair integers; fixed-width big-endian entries, concatenated."""

    @abstractmethod
    def decrypt(self, data: bytes, count: int) -> list[int]:
        """Decrypt `count` packed values (fixed width) into signed integers."""

    def use_layout(self, layout: PackingLayout) -> None:  # noqa: B027 (a hook: most backends need nothing)
        """Adapt to a tree's layout before encrypting its rows (ciphertexts have a fixed width: nothing)."""


class HistogramEvaluator(ABC):
    """Passive side: homomorphic arithmetic on pair vectors, with public material only."""

    scheme: str
    value_bytes: int
    packed_bytes: int
    # Additions are costly ciphertext products: worth planning joint cells to make fewer (cell_plan).
    joint_cells: bool = False

    @abstractmethod
    def load(self, data: bytes, count: int, layout: PackingLayout) -> Vector:
        """Parse `count` serialised entries of the active party's gradient vector."""

    @abstractmethod
    def concat(self, parts: Sequence[Vector]) -> Vector:
        """Join vectors end to end."""

    @abstractmethod
    def size(self, vector: Vector) -> int:
        """Number of entries."""

    @abstractmethod
    def bucket_sum(self, vector: Vector, positions: np.ndarray, buckets: np.ndarray, n_buckets: int) -> Vector:
        """out[b] = sum of vector[positions[i]] over i with buckets[i] == b (the histogram kernel)."""

    @abstractmethod
    def take(self, vector: Vector, index: np.ndarray) -> Vector:
        """Entries at `index`, in that order."""

    @abstractmethod
    def add(self, a: Vector, b: Vector) -> Vector:
        """Entrywise a + b."""

    @abstractmethod
    def sub(self, a: Vector, b: Vector) -> Vector:
        """Entrywise a - b (histogram subtraction: sibling = parent - child)."""

    @abstractmethod
    def segment_cumsum(self, vector: Vector, starts: np.ndarray) -> Vector:
        """Running sums that restart at every index in `starts` (ascending, starts[0] == 0)."""

    @abstractmethod
    def pack(self, vector: Vector, layout: PackingLayout) -> bytes:
        """Pack entries `layout.slots` at a time, re-randomise, serialise with fixed width."""


def segment_lengths(starts: np.ndarray, total: int) -> np.ndarray:
    """Lengths of the segments beginning at `starts` in a vector of `total` entries."""
    return np.diff(np.r_[starts, total]).astype(np.int64)
