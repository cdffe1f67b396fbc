"""Okamoto-Uchiyama: n = p^2 q, c = g^m h^r mod n, plaintexts modulo the secret prime p.

Smaller ciphertexts (|n| instead of 2|n| bits) and cheaper arithmetic than Paillier, at the price of a
known chosen-ciphertext weakness: the decryption of g^M for M >= p is M mod p, and M - (M mod p)
reveals p. Decryption therefore range-checks every result: plaintexts are kept 64 bits below p, so a
ciphertext of an out-of-range value is refused except with probability about 2^-64 (docs/protocols/he.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

import gmpy2
from gmpy2 import mpz

from models.he.counters import OU_DECRYPTIONS, OU_ENCRYPTIONS
from models.he.errors import InsecureParametersError, PlaintextRangeError
from models.he.fixed_base import SignedFixedBase, widest_window
from models.he.obfuscators import ObfuscatorBatch, ObfuscatorSource, RandomBits
from models.he.parallel import powmod_list
from models.he.params import OUParams

# Batches at least this large get a window-16 table of g (about 20 MB per 16 plaintext bits at 2048 bits):
# its build (65,535 products per row) pays off over SecureBoost's 4,096-row chunks, not over a few values.
WIDE_TABLE_BATCH = 2048
# Plaintexts stay this many bits below p: a random residue mod p passes the range check w.p. <= 2^-64.
RANGE_MARGIN_BITS = 64


def _prime(bits: int, rng: RandomBits) -> mpz:
    """A random prime of exactly `bits` bits."""
    while True:
        candidate = gmpy2.next_prime(mpz(rng.getrandbits(bits)) | (mpz(1) << (bits - 1)))
        if int(candidate).bit_length() == bits:
            return candidate


class OUPublicKey:
    """The public key (n, g, h); encryption costs a fixed-base power of g and one multiplication."""

    scheme = "ou"

    def __init__(self, n: int, g: int, h: int, prime_bits: int, params: OUParams | None = None) -> None:
        self.n, self.g, self.h = mpz(n), mpz(g), mpz(h)
        self.params = params or OUParams(key_bits=3 * prime_bits)
        if prime_bits != self.params.prime_bits or int(self.n).bit_length() > 3 * prime_bits or self.n < 3 \
                or not self.n & 1:
            raise InsecureParametersError(f"modulus does not match OU parameters {self.params}")
        if not (0 < self.g < self.n and 0 < self.h < self.n):
            raise InsecureParametersError("g and h must lie in [1, n)")
        # The Jacobi symbol is public: (c/n) = (g/n)^m (h/n)^r. With (g/n) = -1 and (h/n) = +1 every
        # ciphertext would show the parity of its plaintext, so g must have symbol +1.
        if gmpy2.jacobi(self.g, self.n) != 1:
            raise InsecureParametersError("(g/n) = -1: ciphertexts' Jacobi symbols could reveal plaintext parity")
        self.prime_bits = prime_bits
        self.modulus = self.n
        self.plaintext_bits = prime_bits - 1 - RANGE_MARGIN_BITS
        self.ciphertext_bytes = (int(self.n).bit_length() + 7) // 8
        digest = hashlib.sha256(b"xyd/ou/")
        for value in (self.n, self.g, self.h):
            digest.update(int(value).to_bytes(self.ciphertext_bytes, "big"))
        self.fingerprint = digest.hexdigest()[:16]
        self._g_tables: dict[int, SignedFixedBase] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OUPublicKey) and (other.n, other.g, other.h) == (self.n, self.g, self.h)

    def __hash__(self) -> int:
        return hash(("ou", int(self.n), int(self.g), int(self.h)))

    def __repr__(self) -> str:
        return f"OUPublicKey(bits={self.params.key_bits}, fingerprint={self.fingerprint})"

    def _g_table(self, plaintexts: list[int]) -> SignedFixedBase:
        """A signed table of g wide enough for these plaintexts: window 16 for big batches, 8 for small ones.

        Tables are kept per window and rebuilt (wider) only when a plaintext needs more bits than the
        current one covers; a whole run of SecureBoost trees uses one table of about 80 bits.
        """
        limit = 1 << (self.plaintext_bits - 1)
        if any(not -limit < m < limit for m in plaintexts):
            raise PlaintextRangeError(f"plaintext exceeds {self.plaintext_bits - 1} bits")
        bits = max((abs(m).bit_length() for m in plaintexts), default=1) or 1
        window = 16 if len(plaintexts) >= WIDE_TABLE_BATCH else 8
        table = self._g_tables.get(window)
        if table is None or table.magnitude_bits < bits:
            table = SignedFixedBase(self.g, self.n, bits, window)
            self._g_tables[window] = table
        return table

    def _g_powers(self, plaintexts: list[int]) -> list[mpz]:
        """g^m mod n for each m, each distinct value computed once (repeats are common in early trees)."""
        distinct = list(dict.fromkeys(plaintexts))
        if len(distinct) == len(plaintexts):
            return self._g_table(plaintexts).powers(plaintexts)
        powers = dict(zip(distinct, self._g_table(distinct).powers(distinct), strict=True))
        return [powers[m] for m in plaintexts]

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """Encrypt signed integers |P| < 2^(plaintext_bits-1), consuming one obfuscator each."""
        if len(obfuscators) != len(plaintexts):
            raise ValueError("one obfuscator per plaintext")
        OU_ENCRYPTIONS.inc(len(plaintexts))
        n = self.n
        return [gm * r % n for gm, r in zip(self._g_powers(plaintexts), obfuscators.values, strict=True)]

    def trivial_raw(self, plaintexts: list[int]) -> list[mpz]:
        """g^P mod n: deterministic encryptions, only for adding known plaintexts to ciphertexts."""
        return self._g_powers(plaintexts)

    def obfuscator_source(self, *, window_bits: int = 8, rng: RandomBits | None = None) -> ObfuscatorSource:
        """Obfuscators h^a mod n with the public h."""
        return ObfuscatorSource(
            modulus=int(self.n),
            base=int(self.h),
            exponent_bits=self.params.exponent_bits or self.params.key_bits // 2,
            window_bits=window_bits,
        )


class OUSecretKey:
    """The primes p, q: decryption modulo p^2 with a range check, the key owner's cheap encryption."""

    def __init__(self, public: OUPublicKey, p: int, q: int) -> None:
        self.public, self.p, self.q = public, mpz(p), mpz(q)
        self.p2 = self.p * self.p
        if self.p2 * self.q != public.n:
            raise InsecureParametersError("p^2 q does not match the public modulus")
        gp = gmpy2.powmod(public.g, self.p - 1, self.p2)
        if gp == 1:
            raise InsecureParametersError("g^(p-1) = 1 mod p^2: g does not generate the plaintext subgroup")
        log_gp = (gp - 1) // self.p
        self._gp_inv = gmpy2.invert(log_gp, self.p)
        # g's component of order p is 1 + a p mod p^2 with a = -L(g^(p-1)) mod p (its other component, of
        # order dividing p - 1, vanishes in g^(p-1)). With h = g^n that other component is a power of h, so
        # the key owner may encrypt with the order-p component alone (encrypt_raw; he.md section 6).
        self._pq = self.p * self.q
        self._owner_factor = (None if gmpy2.powmod(public.g, public.n, public.n) != public.h
                              else -log_gp * gmpy2.invert(self.q, self.p) % self.p)

    def __repr__(self) -> str:
        return f"OUSecretKey(public={self.public!r})"

    def decrypt_raw(self, ciphertexts: list[mpz], *, threads: int | None = None) -> list[int]:
        """Decrypt to signed integers; refuse any result outside the plaintext range (the CCA guard)."""
        OU_DECRYPTIONS.inc(len(ciphertexts))
        p, p2, half = self.p, self.p2, self.p >> 1
        limit = 1 << (self.public.plaintext_bits - 1)
        powers = powmod_list([c % p2 for c in ciphertexts], p - 1, p2, threads)
        out = []
        for x in powers:
            m = (x - 1) // p * self._gp_inv % p
            value = int(m - p) if m > half else int(m)
            if not -limit < value < limit:
                raise PlaintextRangeError("an OU decryption fell outside the plaintext range: refused")
            out.append(value)
        return out

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """The key owner's encryption: u^m r mod n with u the order-p component of g, which is g^m r with
        the obfuscator r shifted by a power of h (he.md section 6). One product modulo p instead of a table
        power of g; keys whose h is not g^n (made before this) take the public key's way."""
        if self._owner_factor is None:
            return self.public.encrypt_raw(plaintexts, obfuscators)
        if len(obfuscators) != len(plaintexts):
            raise ValueError("one obfuscator per plaintext")
        limit = 1 << (self.public.plaintext_bits - 1)
        if any(not -limit < m < limit for m in plaintexts):
            raise PlaintextRangeError(f"plaintext exceeds {self.public.plaintext_bits - 1} bits")
        OU_ENCRYPTIONS.inc(len(plaintexts))
        p, pq, n, factor = self.p, self._pq, self.public.n, self._owner_factor
        out = []
        for m, r in zip(plaintexts, obfuscators.values, strict=True):
            # c = r + pq s is r modulo q and r (1 + a m p) modulo p^2 exactly when q s = a m r (mod p).
            c = r + pq * (factor * m % p * (r % p) % p)
            out.append(c - n if c >= n else c)
        return out

    def obfuscator_source(self, *, window_bits: int | None = None, rng: RandomBits | None = None
                          ) -> ObfuscatorSource:
        """Obfuscators h^a computed modulo p^2 and q (CRT), exponents uniform modulo p - 1 and q - 1
        (h = g'^n is an n-th power, so its order modulo p^2 divides p - 1 and modulo q divides q - 1).

        With short exponents (the default) one short a serves the whole modulus: h^a mod n directly, the
        same value as by CRT but cheaper here (OU's halves are small enough that two products cost more than
        one full-width product; measured side by side: window 15 ~10% faster than 14 and ~30% faster than
        CRT with 11), with the widest window whose table fits the budget (15 bits: ~130 MB at 2048).
        """
        params = self.public.params
        if params.short_exponents:
            bits = params.exponent_bits or params.key_bits // 2
            return ObfuscatorSource(modulus=int(self.public.n), base=int(self.public.h), exponent_bits=bits,
                                    window_bits=window_bits or widest_window([int(self.public.n).bit_length()],
                                                                             bits))
        return ObfuscatorSource(
            modulus=int(self.public.n),
            base=int(self.public.h),
            exponent_bits=params.exponent_bits or params.key_bits // 2,
            window_bits=window_bits or 11,
            crt=(int(self.p2), int(self.q)),
            crt_orders=(int(self.p) - 1, int(self.q) - 1),
        )


class OUKeypair:
    """A freshly generated Okamoto-Uchiyama key pair."""

    def __init__(self, public: OUPublicKey, secret: OUSecretKey) -> None:
        self.public, self.secret = public, secret

    @classmethod
    def generate(cls, params: OUParams, rng: RandomBits | None = None) -> OUKeypair:
        """Primes p != q of key_bits // 3 bits, g with g^(p-1) of order p mod p^2 and Jacobi symbol +1
        (so ciphertexts' public Jacobi symbols say nothing about plaintexts), h = g^n mod n."""
        rng = rng or secrets.SystemRandom()
        bits = params.prime_bits
        if 3 * bits != params.key_bits:  # the size a receiver reads back from the key: 3 x prime bits
            params = dataclasses.replace(params, key_bits=3 * bits,
                                         exponent_bits=params.exponent_bits if params.short_exponents
                                         else max(params.exponent_bits or 0, 3 * bits // 2))
        while True:
            p, q = _prime(bits, rng), _prime(bits, rng)
            if p != q:
                break
        p2 = p * p
        n = p2 * q
        while True:
            g = mpz(rng.getrandbits(int(n).bit_length())) % n
            if g > 1 and gmpy2.jacobi(g, n) == 1 and gmpy2.powmod(g, p - 1, p2) != 1:
                break
        # h = g^n as in [OU98]: g's component outside the plaintext subgroup is then a power of h, which is
        # what lets the key owner encrypt with the cheap order-p component (OUSecretKey.encrypt_raw).
        public = OUPublicKey(n, g, gmpy2.powmod(g, n, n), bits, params)
        return cls(public, OUSecretKey(public, p, q))
