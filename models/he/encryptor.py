"""Encryption of whole numpy arrays: pack rows, take one obfuscator per ciphertext, multiply."""

from __future__ import annotations

import numpy as np

from models.he.cipher_vector import CipherVector
from models.he.codec import PackingLayout
from models.he.errors import KeyMismatchError, PackingOverflowError
from models.he.obfuscators import ObfuscatorSupply
from models.he.scheme import PublicKey


class Encryptor:
    """Encrypts arrays under `key`, drawing obfuscators from `obfuscators` (a pool or inline supply)."""

    def __init__(self, key: PublicKey, obfuscators: ObfuscatorSupply) -> None:
        if obfuscators.source.modulus != key.modulus:
            raise KeyMismatchError(key.fingerprint, "an obfuscator supply for another modulus")
        self.key = key
        self.obfuscators = obfuscators

    def encrypt(self, values: np.ndarray, layout: PackingLayout) -> CipherVector:
        """One ciphertext per row of `values` ((n, slots), or (n,) for one slot); |values| <= codec.max_abs."""
        layout.check_fits(self.key.plaintext_bits)
        if layout.codec.unit > layout.slot_capacity:
            raise PackingOverflowError(layout.codec.unit, layout.slot_capacity)
        packed = layout.pack(values)
        ciphertexts = self.key.encrypt_raw(packed, self.obfuscators.take(len(packed)))
        return CipherVector(self.key, ciphertexts, layout, bound=layout.codec.unit)
