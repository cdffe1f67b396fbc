"""Paillier keys compatible with python-paillier (phe): g = n + 1, keys are (n) and (p, q).

Encryption is c = (1 + m n) r mod n^2 with a precomputed obfuscator r, computed as
r + n ((m * (r mod n)) mod n): one product of half-width numbers. Decryption uses CRT modulo p^2 and q^2.
"""

from __future__ import annotations

import hashlib
import secrets

import gmpy2
import phe
from gmpy2 import mpz

from models.he.counters import PAILLIER_DECRYPTIONS, PAILLIER_ENCRYPTIONS
from models.he.errors import InsecureParametersError, PlaintextRangeError
from models.he.fixed_base import widest_window
from models.he.obfuscators import ObfuscatorBatch, ObfuscatorSource, RandomBits
from models.he.parallel import powmod_list
from models.he.params import PaillierParams


def _random_unit(modulus: mpz, rng: RandomBits) -> mpz:
    """A uniformly random element of Z_modulus^* (rejection sampling)."""
    while True:
        x = mpz(rng.getrandbits(int(modulus).bit_length())) % modulus
        if x > 1 and gmpy2.gcd(x, modulus) == 1:
            return x


class PaillierPublicKey:
    """The public key n; encrypts with supplied obfuscators and defines the ciphertext group mod n^2."""

    scheme = "paillier"

    def __init__(self, n: int, params: PaillierParams | None = None) -> None:
        self.n = mpz(n)
        self.params = params or PaillierParams(key_bits=int(self.n).bit_length())
        if int(self.n).bit_length() != self.params.key_bits:
            raise InsecureParametersError(
                f"n has {int(self.n).bit_length()} bits, params say {self.params.key_bits}"
            )
        self.nsquare = self.n * self.n
        self.modulus = self.nsquare
        # |P| < 2^(plaintext_bits-1) <= n/4 < n/3: inside phe's positive/negative decoding ranges too.
        self.plaintext_bits = int(self.n).bit_length() - 2
        self.ciphertext_bytes = (int(self.nsquare).bit_length() + 7) // 8
        self.fingerprint = hashlib.sha256(
            b"xyd/paillier/" + int(self.n).to_bytes(self.ciphertext_bytes, "big")
        ).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPublicKey) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("paillier", int(self.n)))

    def __repr__(self) -> str:
        return f"PaillierPublicKey(bits={self.params.key_bits}, fingerprint={self.fingerprint})"

    @classmethod
    def from_phe(cls, key: phe.PaillierPublicKey, params: PaillierParams | None = None) -> PaillierPublicKey:
        """Adopt a phe public key (its g must be n + 1, as phe always makes it)."""
        if key.g != key.n + 1:
            raise InsecureParametersError("only g = n + 1 keys are supported")
        return cls(key.n, params)

    def to_phe(self) -> phe.PaillierPublicKey:
        """The same key as a phe object."""
        return phe.PaillierPublicKey(int(self.n))

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """Encrypt signed integers |P| < 2^(plaintext_bits-1), consuming one obfuscator each."""
        if len(obfuscators) != len(plaintexts):
            raise ValueError("one obfuscator per plaintext")
        PAILLIER_ENCRYPTIONS.inc(len(plaintexts))
        n, nsq, limit = self.n, self.nsquare, 1 << (self.plaintext_bits - 1)
        reduced = obfuscators.reduced or [r % n for r in obfuscators.values]
        out = []
        for m, r, rn in zip(plaintexts, obfuscators.values, reduced, strict=True):
            if not -limit < m < limit:
                raise PlaintextRangeError(f"plaintext exceeds {self.plaintext_bits - 1} bits")
            # (1 + m n) r = r + n (m r mod n)  (mod n^2), with r mod n precomputed by the obfuscator worker.
            c = r + n * (m * rn % n)
            out.append(c - nsq if c >= nsq else c)
        return out

    def trivial_raw(self, plaintexts: list[int]) -> list[mpz]:
        """(1 + P n) mod n^2: deterministic encryptions, only for adding known plaintexts to ciphertexts."""
        n, nsq = self.n, self.nsquare
        return [(1 + (m % n) * n) % nsq for m in plaintexts]

    def obfuscator_source(self, *, window_bits: int = 8, rng: RandomBits | None = None) -> ObfuscatorSource:
        """DJN base h_s = (-x^2)^n mod n^2 for a fresh random x, computed with public values only."""
        rng = rng or secrets.SystemRandom()
        x = _random_unit(self.n, rng)
        h_s = gmpy2.powmod(self.n - x * x % self.n, self.n, self.nsquare)
        return ObfuscatorSource(
            modulus=int(self.nsquare),
            base=int(h_s),
            exponent_bits=self.params.exponent_bits or self.params.key_bits // 2,
            window_bits=window_bits,
            reduce_modulus=int(self.n),
        )


class PaillierSecretKey:
    """The factors p, q: CRT decryption and CRT obfuscators for the key holder."""

    def __init__(self, public: PaillierPublicKey, p: int, q: int) -> None:
        p, q = mpz(p), mpz(q)
        if p * q != public.n or p == q:
            raise InsecureParametersError("p * q does not match the public modulus")
        self.public = public
        self.p, self.q = (p, q) if p < q else (q, p)
        self.p2, self.q2 = self.p * self.p, self.q * self.q
        g = public.n + 1
        # h_p = L_p(g^(p-1) mod p^2)^(-1) mod p, the CRT decryption constants (Paillier 1999, section 7).
        self._hp = gmpy2.invert((gmpy2.powmod(g, self.p - 1, self.p2) - 1) // self.p, self.p)
        self._hq = gmpy2.invert((gmpy2.powmod(g, self.q - 1, self.q2) - 1) // self.q, self.q)
        self._q_inv_p = gmpy2.invert(self.q, self.p)

    def __repr__(self) -> str:
        return f"PaillierSecretKey(public={self.public!r})"

    @classmethod
    def from_phe(cls, key: phe.PaillierPrivateKey, params: PaillierParams | None = None) -> PaillierSecretKey:
        """Adopt a phe private key."""
        return cls(PaillierPublicKey.from_phe(key.public_key, params), key.p, key.q)

    def to_phe(self) -> phe.PaillierPrivateKey:
        """The same key as a phe object."""
        return phe.PaillierPrivateKey(self.public.to_phe(), int(self.p), int(self.q))

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """The public key's encryption: with g = n + 1 it is already one product, the factors add nothing."""
        return self.public.encrypt_raw(plaintexts, obfuscators)

    def decrypt_raw(self, ciphertexts: list[mpz], *, threads: int | None = None) -> list[int]:
        """Decrypt to signed integers in (-n/2, n/2), using every core for the two CRT exponentiations."""
        PAILLIER_DECRYPTIONS.inc(len(ciphertexts))
        p, q, p2, q2 = self.p, self.q, self.p2, self.q2
        cps = powmod_list([c % p2 for c in ciphertexts], p - 1, p2, threads)
        cqs = powmod_list([c % q2 for c in ciphertexts], q - 1, q2, threads)
        n, half, hp, hq, q_inv_p = self.public.n, self.public.n >> 1, self._hp, self._hq, self._q_inv_p
        out = []
        for cp, cq in zip(cps, cqs, strict=True):
            mp = (cp - 1) // p * hp % p
            mq = (cq - 1) // q * hq % q
            m = mq + q * ((mp - mq) * q_inv_p % p)
            out.append(int(m - n) if m > half else int(m))
        return out

    def obfuscator_source(self, *, window_bits: int | None = None, rng: RandomBits | None = None
                          ) -> ObfuscatorSource:
        """DJN base h_s = (-x^2)^n mod n^2; obfuscators computed modulo p^2 and q^2 (CRT) with exponents
        uniform modulo p - 1 and q - 1 (h_s is an n-th power, so its order in each half divides them), or
        or, by default (exponents shorter than key_bits // 2), with one short exponent for both halves and the
        widest window whose tables fit the budget (15 bits at 2048, ~250 MB; 14 at 3072, ~240 MB)."""
        rng = rng or secrets.SystemRandom()
        n, nsq = self.public.n, self.public.nsquare
        x = _random_unit(n, rng)
        h = n - x * x % n
        hp = gmpy2.powmod(h, n % (self.p * (self.p - 1)), self.p2)
        hq = gmpy2.powmod(h, n % (self.q * (self.q - 1)), self.q2)
        h_s = hq + self.q2 * ((hp - hq) * gmpy2.invert(self.q2, self.p2) % self.p2)
        params = self.public.params
        exponent_bits = params.exponent_bits or params.key_bits // 2
        return ObfuscatorSource(
            modulus=int(nsq),
            base=int(h_s),
            exponent_bits=exponent_bits,
            window_bits=window_bits or (widest_window([int(self.p2).bit_length(), int(self.q2).bit_length()],
                                                      exponent_bits) if params.short_exponents else 11),
            crt=(int(self.p2), int(self.q2)),
            # Short exponents (the default): one short a for both halves; otherwise uniform per half.
            crt_orders=None if params.short_exponents else (int(self.p) - 1, int(self.q) - 1),
            reduce_modulus=int(n),
        )


class PaillierKeypair:
    """A freshly generated (or adopted) Paillier key pair."""

    def __init__(self, public: PaillierPublicKey, secret: PaillierSecretKey) -> None:
        self.public, self.secret = public, secret

    @classmethod
    def generate(cls, params: PaillierParams) -> PaillierKeypair:
        """Generate with phe's generator (primes from the OS CSPRNG), so the result is a phe key too."""
        public, private = phe.generate_paillier_keypair(n_length=params.key_bits)
        pk = PaillierPublicKey(public.n, params)
        return cls(pk, PaillierSecretKey(pk, private.p, private.q))

    @classmethod
    def from_phe(
        cls,
        public: phe.PaillierPublicKey,
        private: phe.PaillierPrivateKey,
        params: PaillierParams | None = None,
    ) -> PaillierKeypair:
        """Adopt a phe key pair."""
        secret = PaillierSecretKey.from_phe(private, params)
        if secret.public.n != public.n:
            raise InsecureParametersError("the phe public and private keys do not match")
        return cls(secret.public, secret)
