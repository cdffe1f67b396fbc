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


def default_exponent_bits(key_bits: int) -> int:
    """Obfuscator exponent length: twice the modulus' security strength (docs/protocols/he.md 2.1), the rule
    NIST SP 800-56A and RFC 7919 apply to Diffie-Hellman private exponents; test-size moduli get 160 bits."""
    return 2 * max(factoring_security_bits(key_bits), 80)


def _check_exponent_bits(key_bits: int, exponent_bits: int) -> None:
    floor = default_exponent_bits(key_bits)
    if not floor <= exponent_bits <= key_bits:
        raise InsecureParametersError(
            f"exponent_bits={exponent_bits} must lie in [{floor}, {key_bits}] (twice the key's security strength)"
        )


@dataclass(frozen=True)
class PaillierParams:
    """Paillier modulus size and the length of the DJN random exponent of each obfuscator.

    Defaults give 128-bit security (docs/protocols/he.md 0): a 3072-bit modulus (NIST SP 800-57) and
    exponents of twice the modulus' security strength (256 bits; 224 for an explicitly chosen 2048-bit key).
    Longer exponents are allowed up to key_bits; from key_bits // 2 up the key owner instead draws exponents
    uniform per CRT half (exactly uniform obfuscators, about 5x the cost).
    """

    key_bits: int = 3072
    exponent_bits: int | None = None
    allow_insecure_for_tests: bool = False

    def __post_init__(self) -> None:
        if self.key_bits % 2:
            raise InsecureParametersError(f"key_bits={self.key_bits} must be even (two primes of equal size)")
        _check_key_bits(self.key_bits, self.allow_insecure_for_tests)
        if self.exponent_bits is None:
            object.__setattr__(self, "exponent_bits", default_exponent_bits(self.key_bits))
        assert self.exponent_bits is not None
        _check_exponent_bits(self.key_bits, self.exponent_bits)

    @property
    def short_exponents(self) -> bool:
        """True when obfuscator exponents are below key_bits // 2 (the default): the key owner then uses one
        short exponent for both CRT halves instead of one uniform exponent per half."""
        assert self.exponent_bits is not None
        return self.exponent_bits < self.key_bits // 2

    @property
    def security_bits(self) -> int:
        """Security strength of the modulus (NIST SP 800-57)."""
        return factoring_security_bits(self.key_bits)


@dataclass(frozen=True)
class OUParams:
    """Okamoto-Uchiyama modulus n = p^2 q: |p| = |q| = key_bits // 3, so plaintexts hold about key_bits/3 bits.

    `exponent_bits` is the length of the random exponent of H^r, as for `PaillierParams` (256 bits at the
    default 3072-bit modulus, docs/protocols/he.md 0).
    """

    key_bits: int = 3072
    exponent_bits: int | None = None
    allow_insecure_for_tests: bool = False

    def __post_init__(self) -> None:
        _check_key_bits(self.key_bits, self.allow_insecure_for_tests)
        if self.exponent_bits is None:
            object.__setattr__(self, "exponent_bits", default_exponent_bits(self.key_bits))
        assert self.exponent_bits is not None
        _check_exponent_bits(self.key_bits, self.exponent_bits)

    @property
    def short_exponents(self) -> bool:
        """True when obfuscator exponents are below key_bits // 2 (the default): the key owner then uses one
        short exponent for both CRT halves instead of one uniform exponent per half."""
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
