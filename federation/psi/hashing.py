"""Hash ids to X25519 u-coordinates and keep a party's distinct ids in flat byte arrays.

No Python object is kept per id: the ids' UTF-8 text lives in one bytes buffer with an offsets
array, and the hashed points in one numpy array of 32-byte rows.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from random import Random

import numpy as np

POINT_BYTES = 32
POINT_DTYPE = np.dtype("S32")
# Domain separation: these hashes are used for nothing else, and a later suite gets its own tag.
HASH_DOMAIN = b"xyd/psi/v1/hash-to-x25519-u\x00"


def hash_to_u(text: str) -> bytes:
    """The id's point: SHA-256 over a domain tag and the UTF-8 id, bit 255 cleared (RFC 7748 ignores it)."""
    digest = bytearray(hashlib.sha256(HASH_DOMAIN + text.encode("utf-8")).digest())
    digest[31] &= 0x7F
    return bytes(digest)


@dataclass(frozen=True)
class IdSet:
    """A party's distinct ids and their hashed points, in a secret uniformly random order.

    `points[k]` is the u-coordinate of the id `id_at(k)`. The order is random (drawn from `rng`) so
    that nothing the peer sees depends on the order of the caller's table.
    """

    points: np.ndarray  # (n,) of S32: hashed u-coordinates, distinct
    duplicates: int  # rows dropped because their id appeared earlier
    _text: bytes
    _offsets: np.ndarray  # (rows + 1,) int64 into _text, one entry per input row
    _rows: np.ndarray  # (n,) int64: input row of points[k]

    @classmethod
    def build(cls, ids: Iterable[str], *, rng: Random, order: np.ndarray | None = None) -> IdSet:
        """Hash and deduplicate `ids` (any iterable of str, consumed once); `order` (the `rows` of an earlier
        build over the same ids, from a PSI journal) replaces the random draw."""
        text = bytearray()
        offsets = array("q", [0])
        digests = bytearray()
        sha256 = hashlib.sha256
        for item in ids:
            if not isinstance(item, str):
                raise TypeError(f"PSI ids must be str, got {type(item).__name__}")
            raw = item.encode("utf-8")
            text += raw
            offsets.append(len(text))
            digests += sha256(HASH_DOMAIN + raw).digest()
        hashed = np.frombuffer(digests, dtype=np.uint8).reshape(-1, POINT_BYTES)  # a view: no copy
        hashed[:, 31] &= 0x7F
        # Two distinct ids share a point only on a SHA-256 collision (or a 2^-255 top-bit one): treated as impossible.
        _, first_rows = np.unique(hashed.reshape(-1).view(POINT_DTYPE), return_index=True)
        if order is None:
            keys = np.frombuffer(rng.randbytes(8 * len(first_rows)), dtype=np.uint64)
            rows = first_rows[np.argsort(keys, kind="stable")].astype(np.int64)
        else:
            rows = np.asarray(order, dtype=np.int64)
            if not np.array_equal(np.sort(rows), np.sort(first_rows)):
                raise ValueError("the saved order is not one of these ids: the input changed")
        points = hashed.reshape(-1).view(POINT_DTYPE)[rows].copy()
        return cls(points=points, duplicates=len(offsets) - 1 - len(rows), _text=bytes(text),
                   _offsets=np.frombuffer(offsets, dtype=np.int64), _rows=rows)

    @property
    def rows(self) -> np.ndarray:
        """The input row of each point, in the set's order (a PSI journal keeps it to rebuild the order)."""
        return self._rows

    def __len__(self) -> int:
        return len(self.points)

    def id_at(self, position: int) -> str:
        """The id whose point is `points[position]`."""
        row = int(self._rows[position])
        return self._text[int(self._offsets[row]):int(self._offsets[row + 1])].decode("utf-8")

    def batch(self, start: int, stop: int) -> bytes:
        """Points `start`..`stop` packed back to back."""
        return self.points[start:stop].tobytes()
