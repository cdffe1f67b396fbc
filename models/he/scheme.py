"""The interface every additively homomorphic scheme of the engine implements (Paillier, OU).

Ciphertexts are integers modulo `modulus`; adding plaintexts multiplies ciphertexts, and a signed
plaintext integer P decrypts exactly while |P| < 2^(plaintext_bits - 1). Keys split by role: a
`PublicKey` encrypts and evaluates, only a `SecretKey` decrypts.
"""

from __future__ import annotations

from typing import Protocol

from gmpy2 import mpz

from models.he.obfuscators import ObfuscatorBatch, ObfuscatorSource, RandomBits


class PublicKey(Protocol):
    """Public side of a scheme: encryption with supplied obfuscators and the ciphertext group."""

    scheme: str
    modulus: mpz
    plaintext_bits: int
    ciphertext_bytes: int
    fingerprint: str

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """Encrypt signed integers, each with its own fresh obfuscator."""
        ...

    def trivial_raw(self, plaintexts: list[int]) -> list[mpz]:
        """Deterministic encryptions (no obfuscator), only for adding known plaintexts to ciphertexts."""
        ...

    def obfuscator_source(self, *, window_bits: int = 8, rng: RandomBits | None = None) -> ObfuscatorSource:
        """A recipe for obfuscators computed with public values only."""
        ...


class SecretKey(Protocol):
    """Secret side of a scheme: decryption, and the key holder's cheaper obfuscators and encryption."""

    public: PublicKey

    def decrypt_raw(self, ciphertexts: list[mpz], *, threads: int | None = None) -> list[int]:
        """Decrypt to signed integers (centred), checking each is within plaintext_bits."""
        ...

    def encrypt_raw(self, plaintexts: list[int], obfuscators: ObfuscatorBatch) -> list[mpz]:
        """Encrypt as the public key does (same distribution of ciphertexts), cheaper where the factors help."""
        ...

    def obfuscator_source(self, *, window_bits: int | None = None, rng: RandomBits | None = None
                          ) -> ObfuscatorSource:
        """A recipe for obfuscators made with the secret factors (CRT), window chosen by the scheme if None."""
        ...
