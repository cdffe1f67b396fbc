"""The encrypted backend of the cipher adapter, on the project's HE engine (models/he): Paillier or OU.

The active party encrypts with obfuscators from a supply (a worker pool in production, inline in tests)
and decrypts with CRT on every core. A passive party holds only the public key: it multiplies
ciphertexts (adds plaintexts), inverts (subtracts), raises to 2^slot_bits (shifts, to pack sums) and
multiplies every packed reply by a fresh obfuscator of its own. That last step matters: the active party
made every input ciphertext and could otherwise recognise which of them a sum was built from.
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2
import numpy as np
from gmpy2 import mpz
from google.protobuf.message import DecodeError

from federation.proto import he_pb2
from models.he import CiphertextFormatError, InlineObfuscators, public_key_from_message, public_key_to_message
from models.he.obfuscators import ObfuscatorSupply
from models.he.parallel import powmod_list
from models.he.scheme import PublicKey, SecretKey
from models.secureboost.cipher import GradientEncryptor, HistogramEvaluator, segment_lengths
from models.secureboost.errors import ProtocolError
from models.secureboost.fixed_point import PackingLayout

HE_SCHEMES = ("paillier", "ou")


def _to_bytes(values: Sequence[mpz], width: int) -> bytes:
    return b"".join(mpz(v).to_bytes(width, "big") for v in values)


def _from_bytes(data: bytes, count: int, width: int, modulus: mpz) -> list[mpz]:
    if len(data) != count * width:
        raise ProtocolError("ciphertext bytes", count * width, len(data))  # as the plain backend says it
    view = memoryview(data)
    out = [mpz.from_bytes(view[i * width:(i + 1) * width], "big") for i in range(count)]
    if any(not 0 < c < modulus for c in out):
        raise CiphertextFormatError("a ciphertext lies outside [1, modulus)")
    return out


def _invert_all(values: Sequence[mpz], m: mpz) -> list[mpz]:
    """Inverses modulo m of units, with one modular inversion and three products each (Montgomery's trick)."""
    prefix, acc = [], mpz(1)
    for v in values:
        acc = acc * v % m
        prefix.append(acc)
    if not prefix:
        return []
    inverse = gmpy2.invert(acc, m)
    out = [mpz(0)] * len(values)
    for i in range(len(values) - 1, 0, -1):
        out[i] = inverse * prefix[i - 1] % m
        inverse = inverse * values[i] % m
    out[0] = inverse
    return out


class HeEncryptor(GradientEncryptor):
    """Active side: the secret key, an obfuscator supply, and CRT decryption across `threads` cores."""

    def __init__(self, secret: SecretKey, obfuscators: ObfuscatorSupply | None = None, *,
                 threads: int | None = None) -> None:
        self._secret = secret
        self._public = secret.public
        self._obfuscators = obfuscators if obfuscators is not None else InlineObfuscators(secret.obfuscator_source())
        if self._obfuscators.source.modulus != self._public.modulus:
            raise ProtocolError("obfuscator supply", "one for this key", "one for another modulus")
        self._threads = threads
        self.scheme = self._public.scheme
        self.capacity_bits = self._public.plaintext_bits - 1
        self.value_bytes = self._public.ciphertext_bytes
        self.packed_bytes = self.value_bytes

    def public_bytes(self) -> bytes:
        return public_key_to_message(self._public).SerializeToString()

    def encrypt(self, pairs: Sequence[int]) -> bytes:
        values = list(pairs)
        return _to_bytes(self._secret.encrypt_raw(values, self._obfuscators.take(len(values))), self.value_bytes)

    def decrypt(self, data: bytes, count: int) -> list[int]:
        ciphertexts = _from_bytes(data, count, self.value_bytes, self._public.modulus)
        return self._secret.decrypt_raw(ciphertexts, threads=self._threads)


class HeEvaluator(HistogramEvaluator):
    """Passive side: a public key only, so this party can never decrypt what it handles."""

    joint_cells = True

    def __init__(self, public: PublicKey, obfuscators: ObfuscatorSupply | None = None, *,
                 threads: int | None = None) -> None:
        self._key = public
        self._m = mpz(public.modulus)
        self._obfuscators = obfuscators if obfuscators is not None else InlineObfuscators(public.obfuscator_source())
        self._threads = threads
        self.scheme = public.scheme
        self.value_bytes = public.ciphertext_bytes
        self.packed_bytes = self.value_bytes

    @classmethod
    def from_public_bytes(cls, data: bytes, *, allow_insecure_for_tests: bool = False,
                          threads: int | None = None) -> HeEvaluator:
        """Parse the active party's public key; keys below the engine's floor only in tests."""
        message = he_pb2.PublicKey()
        try:
            message.ParseFromString(data)
        except DecodeError as error:
            raise CiphertextFormatError("the public key message does not parse") from error
        return cls(public_key_from_message(message, allow_insecure_for_tests=allow_insecure_for_tests),
                   threads=threads)

    def load(self, data: bytes, count: int, layout: PackingLayout) -> list[mpz]:
        return _from_bytes(data, count, self.value_bytes, self._m)

    def concat(self, parts: Sequence[list[mpz]]) -> list[mpz]:
        return [c for part in parts for c in part]

    def size(self, vector: list[mpz]) -> int:
        return len(vector)

    def bucket_sum(self, vector: list[mpz], positions: np.ndarray, buckets: np.ndarray, n_buckets: int
                   ) -> list[mpz]:
        m = self._m
        # 1 is the trivial encryption of 0 (what an empty bucket holds); every reply is re-randomised
        # before it leaves. Each bucket starts from its first entry, saving one product per bucket.
        acc = [mpz(1)] * n_buckets
        buckets, positions = np.asarray(buckets, dtype=np.int64), np.asarray(positions)
        starts = np.full(n_buckets, -1, dtype=np.int64)
        starts[buckets] = np.arange(buckets.size, dtype=np.int64)  # one index per occupied bucket (any will do)
        first = np.zeros(buckets.size, dtype=bool)
        first[starts[starts >= 0]] = True
        for b, i in zip(buckets[first].tolist(), positions[first].tolist(), strict=True):
            acc[b] = vector[i]
        for p, b in zip(positions[~first].tolist(), buckets[~first].tolist(), strict=True):
            acc[b] = acc[b] * vector[p] % m
        return acc

    def take(self, vector: list[mpz], index: np.ndarray) -> list[mpz]:
        return [vector[i] for i in index.tolist()]

    def add(self, a: list[mpz], b: list[mpz]) -> list[mpz]:
        m = self._m
        return [x * y % m for x, y in zip(a, b, strict=True)]

    def sub(self, a: list[mpz], b: list[mpz]) -> list[mpz]:
        m = self._m
        return [x * y % m for x, y in zip(a, _invert_all(b, m), strict=True)]

    def segment_cumsum(self, vector: list[mpz], starts: np.ndarray) -> list[mpz]:
        m = self._m
        out = list(vector)
        for s, length in zip(starts.tolist(), segment_lengths(starts, len(vector)).tolist(), strict=True):
            for i in range(s + 1, s + length):
                out[i] = out[i - 1] * out[i] % m
        return out

    def pack(self, vector: list[mpz], layout: PackingLayout) -> bytes:
        m, k = self._m, layout.entries
        if not vector:
            return b""
        groups = -(-len(vector) // k)
        padded = list(vector) + [mpz(1)] * (groups * k - len(vector))
        # Horner over all groups at once: acc = acc^(2^entry_bits) * c_j from the top entry down.
        acc = padded[k - 1::k]
        shift = mpz(1) << layout.entry_bits
        for j in range(k - 2, -1, -1):
            # Groups still at 1 (the padding above a last, partial group) stay 1: GMP would square 1 in full.
            live = [i for i, a in enumerate(acc) if a != 1]
            for i, a in zip(live, powmod_list([acc[i] for i in live], shift, m, self._threads), strict=True):
                acc[i] = a
            acc = [a * c % m for a, c in zip(acc, padded[j::k], strict=True)]
        fresh = self._obfuscators.take(len(acc)).values
        return _to_bytes([a * r % m for a, r in zip(acc, fresh, strict=True)], self.value_bytes)
