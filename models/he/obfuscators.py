"""Obfuscators: the plaintext-independent random factor of a ciphertext, as powers of a fixed base.

An obfuscator is base^a mod N, where base is an encryption of zero chosen once (Paillier: h_s =
(-x^2)^n mod n^2; OU: the public H = g'^n mod n). Without the factorisation, a is a DJN short exponent
of `exponent_bits` bits. The key holder instead draws one exponent per CRT half, uniform modulo p - 1 and
q - 1 (multiples of the base's order in each half), so its obfuscators are exactly uniform in the
subgroup the base generates. Multiplying a ciphertext by one re-randomises it; the Paillier fast path
also keeps r mod n to encrypt with one multiplication. Every obfuscator must be used once: two
ciphertexts sharing one reveal m1 - m2.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Protocol

import gmpy2
from gmpy2 import mpz

from models.he.fixed_base import CrtFixedBase, FixedBaseTable


class RandomBits(Protocol):
    """The randomness interface the engine needs (random.Random and secrets.SystemRandom fit)."""

    def getrandbits(self, k: int, /) -> int: ...


@dataclass(frozen=True)
class ObfuscatorBatch:
    """Fresh obfuscators, each handed out once; `reduced[i]` is values[i] mod n when the scheme wants it."""

    values: list[mpz]
    reduced: list[mpz] | None

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ObfuscatorSource:
    """Everything needed to make obfuscators: the recipe a worker process receives (as bytes, never pickled).

    `crt` holds (m1, m2) with m1 * m2 == modulus when the key holder computes with its secret factors. With
    `crt_orders` (multiples of the base's order modulo each: p - 1, q - 1) exponents are uniform below each
    order and `exponent_bits` is unused; without them (the opt-in short exponents) one `exponent_bits`
    exponent serves both halves, giving exactly base^a mod modulus. `reduce_modulus` asks for r mod that
    modulus too (Paillier's one-multiplication encryption).
    """

    modulus: int
    base: int
    exponent_bits: int
    window_bits: int = 8
    crt: tuple[int, int] | None = None
    crt_orders: tuple[int, int] | None = None
    reduce_modulus: int | None = None

    def __post_init__(self) -> None:
        if self.crt is None and self.crt_orders is not None:
            raise ValueError("crt_orders need the crt factors")
        if self.crt is not None and self.crt[0] * self.crt[1] != self.modulus:
            raise ValueError("crt factors do not multiply to the modulus")
        if self.crt is not None and self.crt_orders is not None:
            for m, order in zip(self.crt, self.crt_orders, strict=True):
                if order < 2 or gmpy2.powmod(self.base, order, m) != 1:
                    raise ValueError("a crt order is not a multiple of the base's order")
        if gmpy2.gcd(self.base, self.modulus) != 1:
            raise ValueError("the obfuscator base must be a unit modulo the ciphertext modulus")

    @property
    def width(self) -> int:
        """Bytes of one serialised obfuscator value."""
        return (int(self.modulus).bit_length() + 7) // 8

    @property
    def reduced_width(self) -> int:
        """Bytes of one serialised r mod n (0 when not requested)."""
        return 0 if self.reduce_modulus is None else (int(self.reduce_modulus).bit_length() + 7) // 8

    def to_bytes(self) -> bytes:
        """Length-prefixed big-endian fields: the recipe crosses a process boundary as plain bytes."""
        fields = [self.modulus, self.base, self.exponent_bits, self.window_bits]
        fields += list(self.crt) if self.crt else [0, 0]
        fields += list(self.crt_orders) if self.crt_orders else [0, 0]
        fields.append(self.reduce_modulus or 0)
        out = bytearray()
        for value in fields:
            raw = int(value).to_bytes((int(value).bit_length() + 7) // 8 or 1, "big")
            out += len(raw).to_bytes(4, "big") + raw
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> ObfuscatorSource:
        """Inverse of `to_bytes`."""
        values, offset = [], 0
        while offset < len(data):
            size = int.from_bytes(data[offset : offset + 4], "big")
            values.append(int.from_bytes(data[offset + 4 : offset + 4 + size], "big"))
            offset += 4 + size
        if len(values) != 9:
            raise ValueError("malformed obfuscator source")
        modulus, base, exponent_bits, window_bits, m1, m2, o1, o2, reduce_modulus = values
        return cls(
            modulus=modulus,
            base=base,
            exponent_bits=exponent_bits,
            window_bits=window_bits,
            crt=(m1, m2) if m1 else None,
            crt_orders=(o1, o2) if o1 else None,
            reduce_modulus=reduce_modulus or None,
        )

    def generator(self) -> ObfuscatorGenerator:
        """Build the window tables (the expensive part; do it once per process)."""
        return ObfuscatorGenerator(self)


def _below(rng: RandomBits, bound: int) -> int:
    """Uniform in [0, bound) by rejection sampling on getrandbits."""
    bits = int(bound).bit_length()
    while (value := rng.getrandbits(bits)) >= bound:
        pass
    return value


def _exponents(rng: RandomBits, bits: int, count: int) -> list[int]:
    """`count` uniform exponents below 2^bits; from the OS CSPRNG, one read serves the whole batch."""
    if not isinstance(rng, secrets.SystemRandom):
        return [rng.getrandbits(bits) for _ in range(count)]
    size, mask = -(-bits // 8), (1 << bits) - 1
    data = os.urandom(size * count)
    return [int.from_bytes(data[i * size:(i + 1) * size], "big") & mask for i in range(count)]


class ObfuscatorGenerator:
    """Makes obfuscators from a source with precomputed fixed-base tables."""

    def __init__(self, source: ObfuscatorSource) -> None:
        self.source = source
        self._crt: CrtFixedBase | None = None
        self._table: FixedBaseTable | None = None
        self._orders: tuple[int, int] | None = None
        if source.crt is not None:
            if source.crt_orders is not None:
                self._orders = (int(source.crt_orders[0]), int(source.crt_orders[1]))
                bits = (self._orders[0].bit_length(), self._orders[1].bit_length())
            else:
                bits = (source.exponent_bits, source.exponent_bits)
            self._crt = CrtFixedBase(source.base, source.crt[0], source.crt[1], bits, source.window_bits)
        else:
            self._table = FixedBaseTable(
                source.base, source.modulus, source.exponent_bits, source.window_bits
            )
        self._reduce = None if source.reduce_modulus is None else mpz(source.reduce_modulus)

    def generate(self, count: int, rng: RandomBits | None = None) -> ObfuscatorBatch:
        """`count` fresh obfuscators, each from its own random exponent(s)."""
        rng = rng or secrets.SystemRandom()
        if self._crt is not None and self._orders is not None:
            pair, (o1, o2) = self._crt.power_pair, self._orders
            values = [pair(_below(rng, o1), _below(rng, o2)) for _ in range(count)]
        elif self._crt is not None:
            values = self._crt.powers(_exponents(rng, self.source.exponent_bits, count))
        else:
            assert self._table is not None
            values = self._table.powers(_exponents(rng, self.source.exponent_bits, count))
        reduced = None if self._reduce is None else [v % self._reduce for v in values]
        return ObfuscatorBatch(values, reduced)

    def generate_bytes(self, count: int, rng: RandomBits | None = None) -> bytes:
        """`count` obfuscators as fixed-width big-endian records (value, then r mod n if requested)."""
        batch = self.generate(count, rng)
        width, reduced_width = self.source.width, self.source.reduced_width
        out = bytearray()
        for i, value in enumerate(batch.values):
            out += mpz(value).to_bytes(width, "big")
            if batch.reduced is not None:
                out += mpz(batch.reduced[i]).to_bytes(reduced_width, "big")
        return bytes(out)


def batch_from_bytes(source: ObfuscatorSource, data: bytes) -> ObfuscatorBatch:
    """Parse records written by `ObfuscatorGenerator.generate_bytes`."""
    width, reduced_width = source.width, source.reduced_width
    record = width + reduced_width
    if len(data) % record:
        raise ValueError("obfuscator records have the wrong length")
    view = memoryview(data)
    values, reduced = [], []
    for start in range(0, len(data), record):
        values.append(mpz.from_bytes(view[start : start + width], "big"))
        if reduced_width:
            reduced.append(mpz.from_bytes(view[start + width : start + record], "big"))
    return ObfuscatorBatch(values, reduced if reduced_width else None)


class ObfuscatorSupply(Protocol):
    """Anything that hands out fresh obfuscators exactly once (a pool, or inline generation)."""

    source: ObfuscatorSource

    def take(self, count: int) -> ObfuscatorBatch: ...


class InlineObfuscators:
    """Generates obfuscators on demand in the calling thread: no workers, for small jobs and tests."""

    def __init__(self, source: ObfuscatorSource, rng: RandomBits | None = None) -> None:
        self.source = source
        self._generator = source.generator()
        self._rng = rng

    def take(self, count: int) -> ObfuscatorBatch:
        """`count` freshly generated obfuscators."""
        return self._generator.generate(count, self._rng)
