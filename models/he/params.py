"""Frozen, validated parameter sets for the Paillier and Okamoto-Uchiyama schemes."""

from __future__ import annotations

from dataclasses import dataclass

from models.he.errors import InsecureParametersError

# NIST SP 800-57 Part 1 Rev. 5, Table 2: security strength of integer-factorisation moduli.
FACTORING_SECURITY_BITS: dict[int, int] = {1024: 80, 2048: 112, 3072: 128, 7680: 192, 15360: 256}

MIN_KEY_BITS = 2048
# Test-only floor: small keys keep unit tests fast; they are never acceptable in a job.
MIN_TEST_KEY_BITS = 512


def factoring_security_bits(key_bits: int) -> int:
    """Security strength of a factoring-based modulus of `key_bits` (largest table row not above it)."""
    eligible = [bits for size, bits in FACTORING_SECURITY_BITS.items() if size <= key_bits]
    return max(eligible) if eligible else 0


def _check_key_bits(key_bits: int, allow_insecure_for_tests: bool) -> None:
    floor = MIN_TEST_KEY_BITS if allow_insecure_for_tests else MIN_KEY_BITS
    if key_bits < floor:
        raise InsecureParametersError(
            f"key_bits={key_bits} is below {floor}"
            + (
                ""
                if allow_insecure_for_tests
                else " (allow_insecure_for_tests=True exists for unit tests only)"
            )
        )


def _check_exponent_bits(key_bits: int, exponent_bits: int, allow_short_exponents: bool) -> None:
    # 2 x security strength; test-size moduli (no table row) get the 1024-bit row's 80.
    floor = 2 * max(factoring_security_bits(key_bits), 80) if allow_short_exponents else key_bits // 2
    if not floor <= exponent_bits <= key_bits:
        raise InsecureParametersError(
            f"exponent_bits={exponent_bits} must lie in [{floor}, {key_bits}]"
            + ("" if allow_short_exponents else " (shorter ones need allow_short_exponents=True)")
        )


@dataclass(frozen=True)
class PaillierParams:
    """Paillier modulus size and the length of the DJN short random exponent of each obfuscator.

    `exponent_bits` defaults to key_bits // 2, the length Damgard-Jurik-Nielsen give (docs/protocols/he.md);
    shorter exponents are refused, longer ones allowed up to key_bits. At that default the key owner does
    not use `exponent_bits` at all: it draws exponents uniform per CRT half (no short-exponent assumption).

    `allow_short_exponents=True` is an explicit, off-by-default security decision: it admits exponents down
    to 2 x the modulus' security strength (224 bits at 2048), about 4x cheaper obfuscators, resting on a
    short-exponent discrete-log assumption beyond DCR; the key owner then computes h_s^a with one short a
    for both CRT halves.
    """

    key_bits: int = 2048
    exponent_bits: int | None = None
    allow_insecure_for_tests: bool = False
    allow_short_exponents: bool = False

    def __post_init__(self) -> None:
        if self.key_bits % 2:
            raise InsecureParametersError(f"key_bits={self.key_bits} must be even (two primes of equal size)")
        _check_key_bits(self.key_bits, self.allow_insecure_for_tests)
        if self.exponent_bits is None:
            object.__setattr__(self, "exponent_bits", self.key_bits // 2)
        assert self.exponent_bits is not None
        _check_exponent_bits(self.key_bits, self.exponent_bits, self.allow_short_exponents)

    @property
    def short_exponents(self) -> bool:
        """True when obfuscator exponents are below key_bits // 2 (only with allow_short_exponents)."""
        assert self.exponent_bits is not None
        return self.exponent_bits < self.key_bits // 2

    @property
    def security_bits(self) -> int:
        """Security strength of the modulus (NIST SP 800-57)."""
        return factoring_security_bits(self.key_bits)


@dataclass(frozen=True)
class OUParams:
    """Okamoto-Uchiyama modulus n = p^2 q: |p| = |q| = key_bits // 3, so plaintexts hold about key_bits/3 bits.

    `exponent_bits` is the length of the short random exponent of H^r, key_bits // 2 by default as for Paillier;
    `allow_short_exponents` as for `PaillierParams` (off by default, a security decision).
    """

    key_bits: int = 2048
    exponent_bits: int | None = None
    allow_insecure_for_tests: bool = False
    allow_short_exponents: bool = False

    def __post_init__(self) -> None:
        _check_key_bits(self.key_bits, self.allow_insecure_for_tests)
        if self.exponent_bits is None:
            object.__setattr__(self, "exponent_bits", self.key_bits // 2)
        assert self.exponent_bits is not None
        _check_exponent_bits(self.key_bits, self.exponent_bits, self.allow_short_exponents)

    @property
    def short_exponents(self) -> bool:
        """True when obfuscator exponents are below key_bits // 2 (only with allow_short_exponents)."""
        assert self.exponent_bits is not None
        return self.exponent_bits < self.key_bits // 2

    @property
    def prime_bits(self) -> int:
        """Bit length of each of p and q: rounded up, so n = p^2 q is never below the requested size."""
        return -(-self.key_bits // 3)

    @property
    def security_bits(self) -> int:
        """Security strength, taken from the factoring table for the full modulus size."""
        return factoring_security_bits(self.key_bits)
