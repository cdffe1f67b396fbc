"""CKKS helpers on TenSEAL for vector-shaped work: logistic-regression products and aggregation.

Keys are split by role. `CkksContext` holds the secret key and is the only type that decrypts;
`CkksPublicContext` is what other parties receive: it encrypts and evaluates, serialises without the
secret key, and carries Galois keys (about 35 MB at N = 8192) only when rotations (sums, dot products)
are needed. A long vector is a `CkksArray`: chunks of at most poly_degree / 2 slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tenseal as ts

from models.he.errors import HEError, InsecureParametersError

# Largest total coefficient-modulus bits for 128-bit classical security with ternary secrets
# (Homomorphic Encryption Standard, Albrecht et al. 2018, Table 1; the same limits as SEAL).
MAX_COEFF_BITS_128: dict[int, int] = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}


@dataclass(frozen=True)
class CkksParams:
    """Ring degree, coefficient-modulus primes and scale, checked against the 128-bit security table.

    The outer primes (first and last) must exceed the scale to keep integer-part precision; the middle
    primes equal the scale so each rescale after a multiplication restores it; depth = len - 2.
    """

    poly_degree: int = 8192
    coeff_bits: tuple[int, ...] = (60, 40, 40, 60)
    scale_bits: int = 40

    def __post_init__(self) -> None:
        limit = MAX_COEFF_BITS_128.get(self.poly_degree)
        if limit is None:
            raise InsecureParametersError(
                f"poly_degree={self.poly_degree} must be one of {sorted(MAX_COEFF_BITS_128)}"
            )
        if sum(self.coeff_bits) > limit:
            raise InsecureParametersError(
                f"coefficient modulus of {sum(self.coeff_bits)} bits exceeds {limit} bits for 128-bit security "
                f"at poly_degree={self.poly_degree}"
            )
        if len(self.coeff_bits) < 2 or any(not 20 <= b <= 60 for b in self.coeff_bits):
            raise ValueError("coeff_bits needs at least two primes of 20..60 bits")
        if not 20 <= self.scale_bits < min(self.coeff_bits[0], self.coeff_bits[-1]):
            raise ValueError("scale_bits must be at least 20 and below the outer primes")
        if any(b != self.scale_bits for b in self.coeff_bits[1:-1]):
            raise ValueError("middle primes must equal scale_bits so rescaling restores the scale")

    @property
    def slots(self) -> int:
        """Real values one ciphertext holds."""
        return self.poly_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications (ciphertext x plaintext included) a fresh ciphertext supports."""
        return len(self.coeff_bits) - 2


class CkksError(HEError):
    """A CKKS context or vector was used against its role (e.g. a public context that holds a secret)."""


class CkksArray:
    """A real vector encrypted as consecutive CKKS ciphertexts (chunks of up to `slots` values)."""

    def __init__(self, chunks: list[ts.CKKSVector]) -> None:
        if not chunks:
            raise ValueError("a CkksArray needs at least one chunk")
        self.chunks = chunks

    def __len__(self) -> int:
        return sum(chunk.size() for chunk in self.chunks)

    @property
    def chunk_sizes(self) -> list[int]:
        """Values per chunk."""
        return [chunk.size() for chunk in self.chunks]

    def _check_aligned(self, other: CkksArray) -> None:
        if self.chunk_sizes != other.chunk_sizes:
            raise ValueError(f"chunking differs: {self.chunk_sizes} vs {other.chunk_sizes}")

    def _split(self, values: np.ndarray) -> list[list[float]]:
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size != len(self):
            raise ValueError(f"expected {len(self)} values, got {x.size}")
        bounds = np.cumsum([0, *self.chunk_sizes])
        return [x[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def __add__(self, other: CkksArray) -> CkksArray:
        self._check_aligned(other)
        return CkksArray([a + b for a, b in zip(self.chunks, other.chunks, strict=True)])

    def __sub__(self, other: CkksArray) -> CkksArray:
        self._check_aligned(other)
        return CkksArray([a - b for a, b in zip(self.chunks, other.chunks, strict=True)])

    def add_plain(self, values: np.ndarray) -> CkksArray:
        """Add a plaintext vector of the same length."""
        return CkksArray([c + part for c, part in zip(self.chunks, self._split(values), strict=True)])

    def mul_plain(self, values: np.ndarray | float) -> CkksArray:
        """Multiply slot-wise by a plaintext vector (or one scalar); uses one level."""
        if np.ndim(values) == 0:
            return CkksArray([c * float(values) for c in self.chunks])
        return CkksArray([c * part for c, part in zip(self.chunks, self._split(values), strict=True)])

    def dot_plain(self, values: np.ndarray) -> ts.CKKSVector:
        """<self, values> as a one-slot ciphertext; needs Galois keys in the context (rotations)."""
        if not self.chunks[0].context().has_galois_keys():
            raise CkksError(
                "a dot product needs Galois keys: use a public context made with galois_keys=True"
            )
        products = [c * part for c, part in zip(self.chunks, self._split(values), strict=True)]
        total = products[0]
        for product in products[1:]:
            total = total + product
        return total.sum()

    def to_chunk_bytes(self) -> list[bytes]:
        """Each chunk as TenSEAL's serialisation (no context inside)."""
        return [chunk.serialize() for chunk in self.chunks]


def _chunked(values: np.ndarray, slots: int) -> list[list[float]]:
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("cannot encrypt an empty vector")
    return [x[i : i + slots].tolist() for i in range(0, x.size, slots)]


class CkksPublicContext:
    """Encrypt and evaluate, never decrypt: what the parties other than the secret holder get."""

    def __init__(self, context: ts.Context, params: CkksParams) -> None:
        if context.is_private():
            raise CkksError("a public CKKS context must not hold the secret key")
        self._context, self.params = context, params

    @property
    def has_galois_keys(self) -> bool:
        """Whether rotations (sums, dot products) are possible."""
        return bool(self._context.has_galois_keys())

    def to_bytes(self) -> bytes:
        """TenSEAL serialisation of the public context (public, relinearisation and any Galois keys)."""
        return self._context.serialize(save_secret_key=False)

    @classmethod
    def from_bytes(cls, data: bytes, params: CkksParams) -> CkksPublicContext:
        """Load a public context, refusing one that carries a secret key."""
        context = ts.context_from(data)
        if context.is_private():
            raise CkksError("received a CKKS context that contains the secret key: refused")
        context.global_scale = 2.0**params.scale_bits
        return cls(context, params)

    def encrypt(self, values: np.ndarray) -> CkksArray:
        """Encrypt a real vector of any length in chunks of `params.slots`."""
        return CkksArray(
            [ts.ckks_vector(self._context, part) for part in _chunked(values, self.params.slots)]
        )

    def array_from_bytes(self, chunks: Sequence[bytes]) -> CkksArray:
        """Load chunks serialised by `CkksArray.to_chunk_bytes`, bound to this context."""
        return CkksArray([ts.ckks_vector_from(self._context, chunk) for chunk in chunks])


class CkksContext(CkksPublicContext):
    """The secret holder: everything a public context does, plus decryption."""

    def __init__(self, context: ts.Context, params: CkksParams) -> None:
        if not context.is_private():
            raise CkksError("a secret CKKS context needs the secret key")
        self._context, self.params = context, params

    @classmethod
    def generate(cls, params: CkksParams, *, galois_keys: bool = True) -> CkksContext:
        """A fresh key set for `params` (Galois keys only when rotations will be needed)."""
        context = ts.context(
            ts.SCHEME_TYPE.CKKS,
            poly_modulus_degree=params.poly_degree,
            coeff_mod_bit_sizes=list(params.coeff_bits),
        )
        context.global_scale = 2.0**params.scale_bits
        if galois_keys:
            context.generate_galois_keys()
        return cls(context, params)

    def public(self, *, galois_keys: bool = False) -> CkksPublicContext:
        """A copy without the secret key, with or without the (large) Galois keys."""
        data = self._context.serialize(save_secret_key=False, save_galois_keys=galois_keys)
        return CkksPublicContext.from_bytes(data, self.params)

    def to_bytes(self) -> bytes:
        """The public part only: a secret context never serialises its secret key through this API."""
        return self._context.serialize(save_secret_key=False)

    def decrypt(self, array: CkksArray | ts.CKKSVector) -> np.ndarray:
        """Decrypt an array (or a single ciphertext) with the secret key."""
        chunks = array.chunks if isinstance(array, CkksArray) else [array]
        secret = self._context.secret_key()
        return np.concatenate([np.asarray(chunk.decrypt(secret), dtype=np.float64) for chunk in chunks])


def weighted_column_sum(columns: Sequence[CkksArray], weights: np.ndarray) -> CkksArray:
    """X w for X encrypted column by column (one array per feature): sum_j w_j * Enc(X[:, j])."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(columns) != w.size or not columns:
        raise ValueError(f"{len(columns)} columns but {w.size} weights")
    total = columns[0].mul_plain(float(w[0]))
    for column, weight in zip(columns[1:], w[1:], strict=True):
        total = total + column.mul_plain(float(weight))
    return total


def plain_matrix_times_encrypted(matrix: np.ndarray, weights: Sequence[CkksArray]) -> CkksArray:
    """X Enc(w) for a plaintext matrix X (n x d) and each weight w_j encrypted as an n-long broadcast array:
    sum_j X[:, j] * Enc(w_j) (column packing; TenSEAL's mm is far too slow, see NOTES)."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(weights):
        raise ValueError(f"matrix of shape {x.shape} does not match {len(weights)} encrypted weights")
    total = weights[0].mul_plain(x[:, 0])
    for j in range(1, x.shape[1]):
        total = total + weights[j].mul_plain(x[:, j])
    return total


def plain_transpose_times_encrypted(matrix: np.ndarray, vector: CkksArray) -> CkksArray:
    """X^T Enc(v) (e.g. a gradient from an encrypted residual): one one-slot ciphertext per column.
    Needs Galois keys; cost is one rotation-sum per column."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(vector):
        raise ValueError(f"matrix of shape {x.shape} does not match a vector of {len(vector)}")
    return CkksArray([vector.dot_plain(x[:, j]) for j in range(x.shape[1])])


def aggregate(arrays: Sequence[CkksArray]) -> CkksArray:
    """The sum of many parties' encrypted vectors (the aggregator sees only ciphertexts)."""
    if not arrays:
        raise ValueError("nothing to aggregate")
    total = arrays[0]
    for array in arrays[1:]:
        total = total + array
    return total
