"""Fixed-point encoding and slot packing of signed real values into one big plaintext integer.

A slot of `slot_bits` bits holds a signed integer v with |v| <= 2^(slot_bits-1) - 1. A row of `slots`
values packs as P = sum_i v_i * 2^(i*slot_bits): a signed-digit number, so sums of packed rows stay
exactly decodable while every slot sum stays inside its slot, with no offsets and no per-bucket counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.he.errors import InsecureParametersError, PlaintextRangeError

# Encoded values are computed in int64 before packing: keep them below 2^62 with room for rounding.
MAX_ENCODED_BITS = 62


@dataclass(frozen=True)
class FixedPointCodec:
    """Real values x with |x| <= max_abs, encoded as round(x * 2^frac_bits) (error <= 2^-(frac_bits+1))."""

    frac_bits: int
    max_abs: float

    def __post_init__(self) -> None:
        if self.frac_bits < 0:
            raise ValueError(f"frac_bits={self.frac_bits} must be >= 0")
        if not (math.isfinite(self.max_abs) and self.max_abs > 0):
            raise ValueError(f"max_abs={self.max_abs} must be finite and positive")

    @property
    def unit(self) -> int:
        """The largest absolute encoded integer a fresh value can produce."""
        return math.ceil(math.ldexp(self.max_abs, self.frac_bits))

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Encode an array of reals to int64, refusing NaN, infinities and values beyond max_abs."""
        if self.unit.bit_length() > MAX_ENCODED_BITS:
            raise ValueError(f"max_abs * 2^frac_bits needs more than {MAX_ENCODED_BITS} bits: cannot encode")
        x = np.asarray(values, dtype=np.float64)
        if x.size and not np.all(np.isfinite(x)):
            raise PlaintextRangeError("values contain NaN or infinity")
        if x.size and float(np.max(np.abs(x))) > self.max_abs:
            raise PlaintextRangeError(f"a value exceeds the declared max_abs={self.max_abs}")
        return np.rint(np.ldexp(x, self.frac_bits)).astype(np.int64)

    def decode(self, encoded: list[int]) -> np.ndarray:
        """Decode signed integers (Python ints of any size) back to float64, correctly rounded."""
        scale = 1 << self.frac_bits
        return np.array([v / scale for v in encoded], dtype=np.float64)


@dataclass(frozen=True)
class PackingLayout:
    """How rows of `slots` fixed-point values sit in one plaintext: slot width and scale.

    Build it with `plan` from the value range, precision and the maximum number of additions, or with
    `scalar` for one value per plaintext using the whole plaintext width.
    """

    codec: FixedPointCodec
    slots: int
    slot_bits: int

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"slots={self.slots} must be >= 1")
        if self.slot_bits < 2:
            raise ValueError(f"slot_bits={self.slot_bits} must be >= 2 (a sign and a magnitude bit)")

    @classmethod
    def plan(cls, codec: FixedPointCodec, *, slots: int, max_additions: int) -> PackingLayout:
        """Slots wide enough that the sum of `max_additions` fresh values never leaves its slot."""
        if max_additions < 1:
            raise ValueError(f"max_additions={max_additions} must be >= 1")
        # One sign bit on top of the magnitude of the largest possible sum.
        return cls(codec=codec, slots=slots, slot_bits=(codec.unit * max_additions).bit_length() + 1)

    @classmethod
    def scalar(cls, codec: FixedPointCodec, plaintext_bits: int) -> PackingLayout:
        """One value per plaintext, using the whole plaintext width as its slot."""
        return cls(codec=codec, slots=1, slot_bits=plaintext_bits)

    @property
    def slot_capacity(self) -> int:
        """The largest absolute integer one slot holds."""
        return (1 << (self.slot_bits - 1)) - 1

    @property
    def row_bits(self) -> int:
        """Bits one packed row occupies."""
        return self.slots * self.slot_bits

    @property
    def arrangement(self) -> tuple[int, int, int]:
        """What two vectors must share to be added: (slots, slot_bits, frac_bits)."""
        return (self.slots, self.slot_bits, self.codec.frac_bits)

    def rows_per_plaintext(self, plaintext_bits: int) -> int:
        """How many rows fit in one plaintext of `plaintext_bits` signed bits."""
        return plaintext_bits // self.row_bits

    def check_fits(self, plaintext_bits: int) -> None:
        """Raise unless at least one row fits in a plaintext of `plaintext_bits` signed bits."""
        if self.rows_per_plaintext(plaintext_bits) < 1:
            raise InsecureParametersError(
                f"a row of {self.slots} x {self.slot_bits} bits does not fit in {plaintext_bits} plaintext bits"
            )

    def rescaled(self, extra_frac_bits: int, factor_abs: float) -> PackingLayout:
        """The layout after multiplying by a fixed-point factor of `extra_frac_bits` with |factor| <= factor_abs."""
        codec = FixedPointCodec(self.codec.frac_bits + extra_frac_bits, self.codec.max_abs * factor_abs)
        return PackingLayout(codec=codec, slots=self.slots, slot_bits=self.slot_bits)

    def pack(self, values: np.ndarray) -> list[int]:
        """Encode rows (n, slots) (or (n,) when slots == 1) and pack each row into one signed integer."""
        x = np.asarray(values, dtype=np.float64)
        if self.slots == 1 and x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.slots:
            raise ValueError(f"expected rows of {self.slots} values, got shape {np.shape(values)}")
        encoded = self.codec.encode(x)
        columns = [encoded[:, i].tolist() for i in range(self.slots)]
        packed = columns[-1]
        for column in reversed(columns[:-1]):
            packed = [(hi << self.slot_bits) + lo for hi, lo in zip(packed, column, strict=True)]
        return packed

    def split(self, packed: list[int], rows_per_plaintext: int = 1) -> list[int]:
        """The signed slot integers of each packed value, low slot first (rows_per_plaintext rows each)."""
        count = self.slots * rows_per_plaintext
        width, half, mask = self.slot_bits, 1 << (self.slot_bits - 1), (1 << self.slot_bits) - 1
        digits: list[int] = []
        for value in packed:
            for _ in range(count):
                # Signed-digit decoding: the low digit in [-2^(w-1), 2^(w-1)), then drop it.
                d = value & mask
                if d >= half:
                    d -= 1 << width
                digits.append(d)
                value = (value - d) >> width
        return digits

    def unpack(self, packed: list[int], rows_per_plaintext: int = 1) -> np.ndarray:
        """Split signed integers holding `rows_per_plaintext` rows each into an (n * rows, slots) array."""
        return self.codec.decode(self.split(packed, rows_per_plaintext)).reshape(-1, self.slots)
