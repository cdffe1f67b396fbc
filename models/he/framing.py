"""Length-prefixed frames on a byte stream: the pipe protocol between the pool and its workers."""

from __future__ import annotations

from typing import BinaryIO


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame (4-byte big-endian length, then the payload), or None at end of input."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    """Write one frame and flush it."""
    stream.write(len(payload).to_bytes(4, "big") + payload)
    stream.flush()
