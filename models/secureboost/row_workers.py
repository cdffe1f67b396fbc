"""The active party's gradient encryption and histogram decryption on a Ray cluster it owns.

Encryption is per row and decryption per packed value, with no arithmetic across them, so the work splits
into contiguous shares, one per worker (a Ray actor of one CPU): each encrypts its share of the tree's rows
with obfuscators it makes itself (fresh randomness, as the local supply's), and decrypts its share of a
histogram with CRT. The driver joins the shares in order. Decryption is exact, so the sums, and the model,
are identical to the local computation whatever the split; only the ciphertexts' randomness differs, as it
does between any two runs. The secret key goes to the party's own cluster and nowhere else; the protocol
between parties is unchanged. Needs the optional `ray` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from federation.compute import join_ray
from models.he import InlineObfuscators
from models.he.scheme import SecretKey
from models.secureboost.cipher import GradientEncryptor
from models.secureboost.errors import InvalidParameterError
from models.secureboost.fixed_point import PackingLayout
from models.secureboost.he_cipher import HeEncryptor


class RowWorker:
    """One actor: the secret key and an obfuscator generator of its own."""

    def __init__(self, secret: SecretKey) -> None:
        self._encryptor = HeEncryptor(secret, InlineObfuscators(secret.obfuscator_source()), threads=1)

    def encrypt(self, pairs: list[int]) -> bytes:
        return self._encryptor.encrypt(pairs)

    def decrypt(self, data: bytes, count: int) -> list[int]:
        return self._encryptor.decrypt(data, count)


class RayGradientEncryptor(GradientEncryptor):
    """`HeEncryptor` with its encryption and decryption spread over `workers` Ray actors.

    `address` is the party's cluster (`ray start --head` prints it); None joins the environment's cluster or
    starts a local one. Use as a context manager, or call `close()`.
    """

    def __init__(self, secret: SecretKey, workers: int, address: str | None = None) -> None:
        if workers < 1:
            raise InvalidParameterError(f"workers must be at least 1, got {workers}")
        self._ray = ray = join_ray(address, workers)
        self._local = HeEncryptor(secret, InlineObfuscators(secret.obfuscator_source()))
        self.scheme = self._local.scheme
        self.capacity_bits = self._local.capacity_bits
        self.value_bytes = self._local.value_bytes
        self.packed_bytes = self._local.packed_bytes
        key = ray.put(secret)
        actor = ray.remote(num_cpus=1)(RowWorker)
        self._actors: list[Any] = [actor.remote(key) for _ in range(workers)]

    def public_bytes(self) -> bytes:
        return self._local.public_bytes()

    def use_layout(self, layout: PackingLayout) -> None:
        self._local.use_layout(layout)

    def encrypt(self, pairs: Sequence[int]) -> bytes:
        values = [int(v) for v in pairs]
        refs = [actor.encrypt.remote(values[a:b]) for actor, (a, b) in zip(self._actors, self._shares(len(values)),
                                                                           strict=False) if b > a]
        return b"".join(self._ray.get(refs))

    def decrypt(self, data: bytes, count: int) -> list[int]:
        width = self.packed_bytes
        if len(data) != count * width:
            return self._local.decrypt(data, count)  # raises the local backend's own error
        refs = [actor.decrypt.remote(data[a * width:b * width], b - a)
                for actor, (a, b) in zip(self._actors, self._shares(count), strict=False) if b > a]
        return [value for share in self._ray.get(refs) for value in share]

    def _shares(self, count: int) -> list[tuple[int, int]]:
        cuts = np.linspace(0, count, len(self._actors) + 1).astype(np.int64).tolist()
        return list(zip(cuts[:-1], cuts[1:], strict=True))

    def close(self) -> None:
        """Release the actors (the cluster itself belongs to the party's operator)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def __enter__(self) -> RayGradientEncryptor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
