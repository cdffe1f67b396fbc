"""RFC 6962 / RFC 9162 hashing: SHA-256 with domain separation between leaves (0x00) and nodes (0x01)."""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
# RFC 9162 section 2.1.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node; the prefix stops leaf/node confusion."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()
