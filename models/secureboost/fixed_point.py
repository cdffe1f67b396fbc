"""Exact fixed-point encoding of (gradient, hessian) pairs and the packing of many sums into one integer.

A row's pair becomes one signed integer  v = G * 2^hess_bits + H  with G = round(g * 2^f) (signed, top field)
and H = round(h * 2^f) >= 0 (bottom field). Sums of such integers over any subset of rows stay of the same
form as long as the hessian sum fits in hess_bits, so an encrypted sum decodes to the exact integer sums.
Several sums v_0..v_{s-1} are then packed as  P = sum_k v_k * 2^(k * slot_bits)  and decoded slot by slot
with centred residues, so no offset (and no row count) is needed. Everything is integer arithmetic:
encrypted and plain training see the very same integers.

With K classes (softmax) a row's K pairs already share one plaintext, one slot each: an entry is K slots
wide, every sum of entries decodes class by class, and a ciphertext carries slots // K candidate sums. The
encryption, bucket sums and decryptions per row and node are those of the binary case: the cost grows only
with the entries per ciphertext (about K times more packed replies), not with K whole passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import secureboost_pb2 as pb
from models.secureboost.errors import PackingOverflowError

# 2^-32 resolution: well below float32 noise, and with |g| <= 1 a sum over 2^30 rows still fits int64.
DEFAULT_FRACTION_BITS = 32
# Integer sums are kept in int64 on both sides; leave one bit of headroom.
_INT64_BUDGET_BITS = 62


def fraction_bits_for(g: np.ndarray, h: np.ndarray) -> int:
    """Largest fraction bits <= DEFAULT_FRACTION_BITS for which every subset sum fits in int64."""
    total = max(float(np.sum(np.abs(g))), float(np.sum(h)), 1.0)
    room = _INT64_BUDGET_BITS - int(np.ceil(np.log2(total))) - 1
    if room < 8:
        raise PackingOverflowError(f"gradient sums of {total:.3g} leave only {room} fraction bits")
    return min(DEFAULT_FRACTION_BITS, room)


def encode(values: np.ndarray, fraction_bits: int) -> np.ndarray:
    """Round float values to int64 fixed point with `fraction_bits` bits after the point."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(2**fraction_bits))
    if scaled.size and float(np.max(np.abs(scaled))) >= 2.0**_INT64_BUDGET_BITS:
        raise PackingOverflowError("a fixed-point value exceeds the int64 budget")
    return scaled.astype(np.int64)


def decode(values: np.ndarray | int, fraction_bits: int) -> np.ndarray:
    """Integer fixed point back to float64 (exactly the same floats on every party)."""
    return np.asarray(values, dtype=np.float64) / float(2**fraction_bits)


@dataclass(frozen=True)
class PackingLayout:
    """Field and slot widths for one tree, derived from the tree's gradient bounds.

    Preconditions: any subset sum of H is < 2^hess_bits, |any subset sum of pairs| < 2^(slot_bits - 1),
    and slots * slot_bits <= capacity_bits - 1 of the scheme, so packed sums decrypt exactly.
    """

    fraction_bits: int
    hess_bits: int
    slot_bits: int
    slots: int
    classes: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.fraction_bits <= DEFAULT_FRACTION_BITS):
            raise PackingOverflowError(f"fraction_bits {self.fraction_bits} out of [1, {DEFAULT_FRACTION_BITS}]")
        if not (1 <= self.hess_bits < self.slot_bits - 1) or not 1 <= self.classes <= self.slots:
            raise PackingOverflowError(f"inconsistent layout {self}")

    @classmethod
    def for_tree(cls, G: np.ndarray, H: np.ndarray, fraction_bits: int, capacity_bits: int) -> PackingLayout:
        """The tightest layout for these encoded pairs (1-d, or (rows, classes) for softmax): bounds are the
        totals of |G| and of H, the largest over classes."""
        if H.size and int(np.min(H)) < 0:
            raise PackingOverflowError("hessians must be non-negative")
        classes = 1 if H.ndim == 1 else H.shape[1]
        hess_bits = max(1, int(np.max(np.sum(H, axis=0, dtype=np.int64), initial=0)).bit_length())
        grad_bound = int(np.max(np.sum(np.abs(G), axis=0, dtype=np.int64), initial=0))
        slot_bits = (grad_bound + 1).bit_length() + hess_bits + 1
        slots = (capacity_bits - 1) // slot_bits
        if slots < classes:
            raise PackingOverflowError(f"{classes} slots of {slot_bits} bits do not fit {capacity_bits} plaintext bits")
        return cls(fraction_bits, hess_bits, slot_bits, slots, classes)

    @classmethod
    def from_proto(cls, msg: pb.PackingLayout) -> PackingLayout:
        return cls(msg.fraction_bits, msg.hess_bits, msg.slot_bits, msg.slots, msg.classes or 1)

    def to_proto(self) -> pb.PackingLayout:
        return pb.PackingLayout(fraction_bits=self.fraction_bits, hess_bits=self.hess_bits,
                                slot_bits=self.slot_bits, slots=self.slots,
                                classes=0 if self.classes == 1 else self.classes)

    @property
    def entries(self) -> int:
        """Entries (one row's, or one candidate's, pairs of every class) per packed value."""
        return self.slots // self.classes

    @property
    def entry_bits(self) -> int:
        """Width of one entry: the shift between two entries packed into one value."""
        return self.classes * self.slot_bits

    def pair(self, g: int, h: int) -> int:
        """One row's (G, H) as the signed integer G * 2^hess_bits + H."""
        if not (0 <= h < (1 << self.hess_bits)):
            raise PackingOverflowError(f"hessian {h} outside [0, 2^{self.hess_bits})")
        return (g << self.hess_bits) + h

    def pairs(self, G: np.ndarray, H: np.ndarray) -> list[int]:
        """Every row's entry integer, in row order: its pair, or its classes' pairs packed slot by slot."""
        if H.size and (int(np.min(H)) < 0 or int(np.max(H)) >= (1 << self.hess_bits)):
            raise PackingOverflowError(f"a hessian is outside [0, 2^{self.hess_bits})")
        shift = self.hess_bits
        if H.ndim == 1:
            return [(g << shift) + h for g, h in zip(G.tolist(), H.tolist(), strict=True)]
        if H.shape[1] != self.classes:
            raise PackingOverflowError(f"{H.shape[1]} classes in a {self.classes}-class layout")
        return [self.pack([(g << shift) + h for g, h in zip(gs, hs, strict=True)])
                for gs, hs in zip(G.tolist(), H.tolist(), strict=True)]

    def unpair(self, value: int) -> tuple[int, int]:
        """Split a (sum of) pair integer(s) into its gradient and hessian sums."""
        h = value & ((1 << self.hess_bits) - 1)
        return (value - h) >> self.hess_bits, h

    def pack(self, values: Sequence[int]) -> int:
        """P = sum_k values[k] * 2^(k * slot_bits), at most `slots` values."""
        if len(values) > self.slots:
            raise PackingOverflowError(f"{len(values)} values for {self.slots} slots")
        bound = 1 << (self.slot_bits - 1)
        packed = 0
        for v in reversed(values):
            if not (-bound <= v < bound):
                raise PackingOverflowError(f"value of {int(v).bit_length()} bits in a {self.slot_bits}-bit slot")
            packed = (packed << self.slot_bits) + v
        return packed

    def unpack(self, packed: int, count: int) -> list[int]:
        """Inverse of `pack` for `count` slots (centred residues: each slot may be negative)."""
        width, half = 1 << self.slot_bits, 1 << (self.slot_bits - 1)
        out = []
        for _ in range(count):
            v = packed & (width - 1)
            if v >= half:
                v -= width
            out.append(v)
            packed = (packed - v) >> self.slot_bits
        if packed != 0:
            raise PackingOverflowError("packed value has bits above its last slot")
        return out

    def unpack_pairs(self, packed: Sequence[int], count: int) -> tuple[np.ndarray, np.ndarray]:
        """Decode packed sums into int64 gradient and hessian sums: `count` of them, each (classes,) wide
        when the layout has several classes."""
        k = self.classes
        G = np.empty(count * k, dtype=np.int64)
        H = np.empty(count * k, dtype=np.int64)
        i = 0
        for p in packed:
            n = min(self.entries, count - i // k) * k
            for v in self.unpack(p, n):
                G[i], H[i] = self.unpair(v)
                i += 1
        if i != count * k:
            raise PackingOverflowError(f"{len(packed)} packed values hold {i // k} sums, expected {count}")
        return (G, H) if k == 1 else (G.reshape(count, k), H.reshape(count, k))

    def n_packed(self, count: int) -> int:
        """Number of packed values needed for `count` sums."""
        return -(-count // self.entries)
