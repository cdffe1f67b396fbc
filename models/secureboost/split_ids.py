"""Opaque split ids: a keyed PRF of (tree, node, feature, bin, missing side), secret to the owner.

Ids are fresh for every node, so the active party cannot tell which candidates of two nodes share a
feature or a threshold, and sorting candidates by id is a shuffle only the owner can undo. Because the
id depends on the feature NAME and not on which party holds it, the same data split differently over
parties yields the same ids (and the same tie-breaks) when the parties share a key, as tests do.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

import numpy as np

KEY_BYTES = 32


def split_id(key: bytes, tree: int, node: int, feature: str, last_left_bin: int, missing_left: bool) -> int:
    """64-bit id of one candidate split."""
    message = struct.pack(">IIi?", tree, node, last_left_bin, missing_left) + feature.encode("utf-8")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big")


def ids_to_bytes(ids: np.ndarray) -> bytes:
    """uint64 ids as 8-byte big-endian entries."""
    return np.asarray(ids, dtype=">u8").tobytes()


def ids_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=">u8").astype(np.uint64)
