"""Decryption of whole cipher vectors on every core, unpacking slots back into float arrays."""

from __future__ import annotations

import numpy as np

from models.he.cipher_vector import CipherVector
from models.he.errors import KeyMismatchError
from models.he.scheme import SecretKey


class Decryptor:
    """Decrypts vectors made under `secret.public`; only the key holder can build one."""

    def __init__(self, secret: SecretKey, *, threads: int | None = None) -> None:
        self.secret = secret
        self.threads = threads

    def decrypt_integers(self, vector: CipherVector) -> list[int]:
        """The raw signed plaintext integer of every ciphertext (packed rows not split)."""
        if vector.key.fingerprint != self.secret.public.fingerprint:
            raise KeyMismatchError(self.secret.public.fingerprint, vector.key.fingerprint)
        return self.secret.decrypt_raw(vector.ciphertexts, threads=self.threads)

    def decrypt(self, vector: CipherVector) -> np.ndarray:
        """Decoded values: shape (rows, slots), or (rows,) when the layout has one slot."""
        plaintexts = self.decrypt_integers(vector)
        values = vector.layout.unpack(plaintexts, vector.rows_per_ciphertext)[: vector.rows]
        return values[:, 0] if vector.layout.slots == 1 else values
