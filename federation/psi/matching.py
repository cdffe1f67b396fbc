"""Compare doubly blinded points: exact 32-byte equality, vectorised with numpy."""

from __future__ import annotations

import numpy as np

from federation.psi.hashing import POINT_DTYPE


def as_points(packed: bytes | bytearray | memoryview) -> np.ndarray:
    """View packed 32-byte points as a (n,) S32 array without copying."""
    return np.frombuffer(packed, dtype=POINT_DTYPE)


def membership(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """A boolean mask over `own`: True where the point also occurs in `other` (both (n,) S32)."""
    if len(own) == 0 or len(other) == 0:
        return np.zeros(len(own), dtype=bool)
    ordered = np.sort(other)
    slots = np.searchsorted(ordered, own)
    np.minimum(slots, len(ordered) - 1, out=slots)
    return ordered[slots] == own


def sorted_packed(points: np.ndarray) -> bytes:
    """The points in byte order, packed: a canonical order that carries nothing of the sender's order."""
    return np.sort(points).tobytes()
