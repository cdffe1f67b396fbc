"""Two interchangeable vector backends, so plain mode runs the very same protocol code as encrypted mode.

`CkksVectors` holds CKKS ciphertexts (TenSEAL, public context only: it can never decrypt); `PlainVectors`
holds numpy arrays. Both chunk a vector into pieces of `slots` values exactly alike, so `fold` (the
slot-wise sum of the chunks, which is what the arbiter later sums) means the same thing in both.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.he.ckks import CkksArray, CkksContext, CkksPublicContext
from models.hetero_lr.params import ProtocolError


def padded_length(rows: int, slots: int) -> int:
    """Length of a batch vector: the rows themselves up to one chunk, else whole chunks of `slots`."""
    return rows if rows <= slots else -(-rows // slots) * slots


class Vectors(Protocol):
    """What the guest and the hosts do with (possibly encrypted) vectors."""

    encrypted: bool
    slots: int

    def encrypt(self, values: np.ndarray) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def add_plain(self, a: Any, values: np.ndarray) -> Any: ...
    def mul_plain(self, a: Any, values: np.ndarray) -> Any: ...
    def square(self, a: Any) -> Any: ...
    def fold(self, a: Any) -> Any: ...
    def length(self, a: Any) -> int: ...
    def to_message(self, a: Any) -> pb.Vector: ...
    def from_message(self, message: pb.Vector) -> Any: ...


class PlainVectors:
    """Plain mode: vectors are float64 arrays and 'encryption' is the identity."""

    encrypted = False

    def __init__(self, slots: int) -> None:
        self.slots = slots

    def encrypt(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).copy()

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.shape != b.shape:
            raise ProtocolError(f"vector lengths differ: {a.size} vs {b.size}")
        return a + b

    def add_plain(self, a: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.add(a, np.asarray(values, dtype=np.float64))

    def mul_plain(self, a: np.ndarray, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if a.shape != v.shape:
            raise ProtocolError(f"vector lengths differ: {a.size} vs {v.size}")
        return a * v

    def square(self, a: np.ndarray) -> np.ndarray:
        return a * a

    def fold(self, a: np.ndarray) -> np.ndarray:
        return a if a.size <= self.slots else a.reshape(-1, self.slots).sum(axis=0)

    def length(self, a: np.ndarray) -> int:
        return int(a.size)

    def to_message(self, a: np.ndarray) -> pb.Vector:
        return pb.Vector(values=a.tolist(), length=a.size)

    def from_message(self, message: pb.Vector) -> np.ndarray:
        return plain_values(message)


def plain_values(message: pb.Vector) -> np.ndarray:
    """The values of a plain-mode vector, refusing ciphertexts and a wrong length."""
    if message.chunks:
        raise ProtocolError("plain mode received ciphertexts")
    values = np.asarray(message.values, dtype=np.float64)
    if values.size != message.length:
        raise ProtocolError(f"vector of {values.size} values claims {message.length}")
    return values


class CkksVectors:
    """Encrypted mode: CKKS arrays under the arbiter's public context (no secret key, no decryption)."""

    encrypted = True

    def __init__(self, context: CkksPublicContext) -> None:
        self.context = context
        self.slots = context.params.slots

    def encrypt(self, values: np.ndarray) -> CkksArray:
        return self.context.encrypt(np.asarray(values, dtype=np.float64))

    def add(self, a: CkksArray, b: CkksArray) -> CkksArray:
        try:
            return a + b
        except ValueError as error:
            raise ProtocolError(str(error)) from error

    def add_plain(self, a: CkksArray, values: np.ndarray) -> CkksArray:
        return a.add_plain(values)

    def mul_plain(self, a: CkksArray, values: np.ndarray) -> CkksArray:
        return a.mul_plain(values)

    def square(self, a: CkksArray) -> CkksArray:
        # One ciphertext product (relinearised, rescaled): uses one level, like a plaintext product.
        return CkksArray([chunk.square() for chunk in a.chunks])

    def fold(self, a: CkksArray) -> CkksArray:
        total = a.chunks[0]
        for chunk in a.chunks[1:]:
            total = total + chunk
        return CkksArray([total])

    def length(self, a: CkksArray) -> int:
        return len(a)

    def to_message(self, a: CkksArray) -> pb.Vector:
        return pb.Vector(chunks=a.to_chunk_bytes(), length=len(a))

    def from_message(self, message: pb.Vector) -> CkksArray:
        if not message.chunks:
            raise ProtocolError("encrypted mode received no ciphertexts")
        expected = -(-message.length // self.slots)
        if len(message.chunks) != expected:
            raise ProtocolError(f"{len(message.chunks)} chunks for a vector of {message.length}")
        try:
            array = self.context.array_from_bytes(list(message.chunks))
        except Exception as error:  # TenSEAL raises bare exceptions on malformed input
            raise ProtocolError(f"malformed ciphertext: {error}") from error
        if len(array) != message.length:
            raise ProtocolError(f"ciphertexts hold {len(array)} values, the message claims {message.length}")
        return array


def decrypt_message(message: pb.Vector, context: CkksContext | None) -> np.ndarray:
    """The arbiter's side: the values of a vector (decrypted when `context` is the secret holder's)."""
    if context is None:
        return plain_values(message)
    return context.decrypt(CkksVectors(context).from_message(message))
