"""A vector of ciphertexts with its packing layout: the arithmetic algorithms run on encrypted data.

Every vector carries `bound`, an upper bound on the absolute encoded integer in any slot that depends only
on the operations applied (never on the values). Each operation updates it first and raises
PackingOverflowError before any slot could overflow, so packed sums are exact or refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2
import numpy as np
from gmpy2 import mpz

from models.he.codec import FixedPointCodec, PackingLayout
from models.he.errors import (
    CiphertextFormatError,
    KeyMismatchError,
    LayoutMismatchError,
    PackingOverflowError,
)
from models.he.obfuscators import ObfuscatorSupply
from models.he.parallel import powmod_list
from models.he.scheme import PublicKey


class CipherVector:
    """`rows` encrypted rows of `layout.slots` values; `rows_per_ciphertext` rows share one ciphertext."""

    def __init__(
        self,
        key: PublicKey,
        ciphertexts: list[mpz],
        layout: PackingLayout,
        *,
        rows: int | None = None,
        rows_per_ciphertext: int = 1,
        bound: int,
    ) -> None:
        rows = len(ciphertexts) if rows is None else rows
        if len(ciphertexts) != -(-rows // rows_per_ciphertext):
            raise ValueError(
                f"{len(ciphertexts)} ciphertexts cannot hold {rows} rows at {rows_per_ciphertext} each"
            )
        if rows_per_ciphertext * layout.row_bits > key.plaintext_bits:
            raise PackingOverflowError(rows_per_ciphertext * layout.row_bits, key.plaintext_bits)
        if bound > layout.slot_capacity:
            raise PackingOverflowError(bound, layout.slot_capacity)
        self.key = key
        self.ciphertexts = ciphertexts
        self.layout = layout
        self.rows = rows
        self.rows_per_ciphertext = rows_per_ciphertext
        self.bound = bound

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return (
            f"CipherVector({self.key.scheme}, rows={self.rows}, slots={self.layout.slots}, "
            f"rows_per_ciphertext={self.rows_per_ciphertext}, bound_bits={self.bound.bit_length()})"
        )

    # -- construction helpers -------------------------------------------------------------------------

    def _derive(self, ciphertexts: list[mpz], bound: int, *, rows: int | None = None) -> CipherVector:
        """A vector with this one's key and layout; `rows` (one per ciphertext) when the row count changes."""
        if bound > self.layout.slot_capacity:
            raise PackingOverflowError(bound, self.layout.slot_capacity)
        return CipherVector(
            self.key,
            ciphertexts,
            self.layout,
            rows=self.rows if rows is None else rows,
            rows_per_ciphertext=self.rows_per_ciphertext if rows is None else 1,
            bound=bound,
        )

    def _check_same_shape(self, other: CipherVector) -> None:
        if other.key.fingerprint != self.key.fingerprint:
            raise KeyMismatchError(self.key.fingerprint, other.key.fingerprint)
        if other.layout.arrangement != self.layout.arrangement:
            raise LayoutMismatchError(
                f"layouts differ: {self.layout.arrangement} vs {other.layout.arrangement}"
            )
        if (other.rows, other.rows_per_ciphertext) != (self.rows, self.rows_per_ciphertext):
            raise LayoutMismatchError(
                f"shapes differ: {self.rows} rows x{self.rows_per_ciphertext} vs "
                f"{other.rows} rows x{other.rows_per_ciphertext}"
            )

    def _require_unpacked(self, operation: str) -> None:
        if self.rows_per_ciphertext != 1:
            raise LayoutMismatchError(f"{operation} needs one row per ciphertext; this vector is row-packed")

    # -- homomorphic arithmetic -----------------------------------------------------------------------

    def add(self, other: CipherVector) -> CipherVector:
        """Row-wise sum of two vectors under the same key and layout."""
        self._check_same_shape(other)
        m = self.key.modulus
        return self._derive(
            [a * b % m for a, b in zip(self.ciphertexts, other.ciphertexts, strict=True)],
            self.bound + other.bound,
        )

    def __add__(self, other: CipherVector) -> CipherVector:
        return self.add(other)

    def neg(self) -> CipherVector:
        """Row-wise negation (a modular inverse per ciphertext)."""
        m = self.key.modulus
        return self._derive([gmpy2.invert(c, m) for c in self.ciphertexts], self.bound)

    def sub(self, other: CipherVector, *, other_is_subset: bool = False) -> CipherVector:
        """Row-wise difference. With `other_is_subset` the caller states every term summed into `other`
        was also summed into `self` (histogram subtraction: sibling = parent - child), so the bound stays
        self's; without it the bound is the sum of both.
        """
        self._check_same_shape(other)
        m = self.key.modulus
        bound = self.bound if other_is_subset else self.bound + other.bound
        return self._derive(
            [a * gmpy2.invert(b, m) % m for a, b in zip(self.ciphertexts, other.ciphertexts, strict=True)],
            bound,
        )

    def __sub__(self, other: CipherVector) -> CipherVector:
        return self.sub(other)

    def add_plain(self, values: np.ndarray) -> CipherVector:
        """Add plaintext rows (encoded with this vector's codec); costs no obfuscator (deterministic term)."""
        self._require_unpacked("add_plain")
        packed = self.layout.pack(values)
        if len(packed) != self.rows:
            raise ValueError(f"expected {self.rows} rows, got {len(packed)}")
        trivial = self.key.trivial_raw(packed)
        m = self.key.modulus
        return self._derive(
            [a * t % m for a, t in zip(self.ciphertexts, trivial, strict=True)],
            self.bound + self.layout.codec.unit,
        )

    def mul(self, scalars: int | Sequence[int] | np.ndarray, *, threads: int | None = None) -> CipherVector:
        """Multiply every slot by an integer: one for all rows, or one per row."""
        m = self.key.modulus
        if isinstance(scalars, int | np.integer):
            k = int(scalars)
            bound = self.bound * abs(k)
            if bound > self.layout.slot_capacity:
                raise PackingOverflowError(bound, self.layout.slot_capacity)
            powered = powmod_list(self.ciphertexts, abs(k), m, threads)
            return self._derive([gmpy2.invert(c, m) for c in powered] if k < 0 else powered, bound)
        self._require_unpacked("per-row mul")
        ks = [int(k) for k in np.asarray(scalars).ravel().tolist()]
        if len(ks) != self.rows:
            raise ValueError(f"expected {self.rows} scalars, got {len(ks)}")
        bound = self.bound * max((abs(k) for k in ks), default=0)
        if bound > self.layout.slot_capacity:
            raise PackingOverflowError(bound, self.layout.slot_capacity)
        out = []
        for c, k in zip(self.ciphertexts, ks, strict=True):
            power = gmpy2.powmod(c, abs(k), m)
            out.append(gmpy2.invert(power, m) if k < 0 else power)
        return self._derive(out, bound)

    def mul_fixed(self, factors: float | np.ndarray, frac_bits: int) -> CipherVector:
        """Multiply by real factors encoded with `frac_bits`; the result's scale grows by 2^frac_bits."""
        values = np.asarray(factors, dtype=np.float64)
        factor_abs = float(np.max(np.abs(values))) if values.size else 0.0
        codec = FixedPointCodec(frac_bits, max(factor_abs, np.finfo(np.float64).tiny))
        encoded = codec.encode(values)
        layout = self.layout.rescaled(frac_bits, codec.max_abs)
        scaled = self.mul(int(encoded) if values.ndim == 0 else encoded)
        return CipherVector(
            self.key,
            scaled.ciphertexts,
            layout,
            rows=self.rows,
            rows_per_ciphertext=self.rows_per_ciphertext,
            bound=scaled.bound,
        )

    def bucket_sum(self, group_index: np.ndarray, n_groups: int) -> CipherVector:
        """Histogram kernel: out[k] = sum of rows i with group_index[i] == k; -1 skips a row.

        Buckets nobody falls into hold the trivial encryption of zero (the integer 1): re-randomise
        before sending if their emptiness must stay hidden.
        """
        self._require_unpacked("bucket_sum")
        index = np.asarray(group_index)
        if index.shape != (self.rows,) or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"group_index must be {self.rows} integers")
        if index.size and (int(index.min()) < -1 or int(index.max()) >= n_groups):
            raise ValueError(f"group_index values must lie in [-1, {n_groups})")
        kept = index[index >= 0]
        largest = int(np.bincount(kept, minlength=1).max()) if kept.size else 0
        bound = self.bound * largest
        if bound > self.layout.slot_capacity:
            raise PackingOverflowError(bound, self.layout.slot_capacity)
        m = self.key.modulus
        sums: list[mpz | None] = [None] * n_groups
        for c, k in zip(self.ciphertexts, index.tolist(), strict=True):
            if k < 0:
                continue
            s = sums[k]
            sums[k] = c if s is None else s * c % m
        one = mpz(1)
        return self._derive([one if s is None else s for s in sums], bound, rows=n_groups)

    def pack(self, rows_per_ciphertext: int | None = None, *, threads: int | None = None) -> CipherVector:
        """Fold rows together by shift-and-add (c_j^(2^(j*row_bits)) products) so decryption needs fewer
        ciphertexts. Default: as many rows as the plaintext holds."""
        self._require_unpacked("pack")
        k = rows_per_ciphertext or self.layout.rows_per_plaintext(self.key.plaintext_bits)
        if k < 1 or k * self.layout.row_bits > self.key.plaintext_bits:
            raise PackingOverflowError(k * self.layout.row_bits, self.key.plaintext_bits)
        if k == 1:
            return self
        m, shift = self.key.modulus, 1 << self.layout.row_bits
        padded = self.ciphertexts + [mpz(1)] * (-len(self.ciphertexts) % k)
        # Horner over all groups at once: acc = acc^(2^row_bits) * c_j for j from the top row down.
        acc = padded[k - 1 :: k]
        for j in range(k - 2, -1, -1):
            acc = powmod_list(acc, shift, m, threads)
            acc = [a * c % m for a, c in zip(acc, padded[j::k], strict=True)]
        return CipherVector(
            self.key, acc, self.layout, rows=self.rows, rows_per_ciphertext=k, bound=self.bound
        )

    def rerandomize(self, obfuscators: ObfuscatorSupply) -> CipherVector:
        """Multiply each ciphertext by a fresh encryption of zero, hiding how it was computed."""
        if obfuscators.source.modulus != self.key.modulus:
            raise KeyMismatchError(self.key.fingerprint, "obfuscators for another modulus")
        fresh = obfuscators.take(len(self.ciphertexts)).values
        m = self.key.modulus
        return CipherVector(
            self.key,
            [c * r % m for c, r in zip(self.ciphertexts, fresh, strict=True)],
            self.layout,
            rows=self.rows,
            rows_per_ciphertext=self.rows_per_ciphertext,
            bound=self.bound,
        )

    # -- selection ------------------------------------------------------------------------------------

    def take(self, indices: np.ndarray | Sequence[int]) -> CipherVector:
        """The rows at `indices` (a sample subset, e.g. the samples of one tree node)."""
        self._require_unpacked("take")
        chosen = [self.ciphertexts[i] for i in np.asarray(indices, dtype=np.int64).tolist()]
        return CipherVector(self.key, chosen, self.layout, bound=self.bound)

    @classmethod
    def concat(cls, parts: Sequence[CipherVector]) -> CipherVector:
        """Rows of several unpacked vectors (same key and layout) one after another."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for part in parts:
            part._require_unpacked("concat")
            if part.key.fingerprint != first.key.fingerprint:
                raise KeyMismatchError(first.key.fingerprint, part.key.fingerprint)
            if part.layout.arrangement != first.layout.arrangement:
                raise LayoutMismatchError("layouts differ")
        return cls(
            first.key,
            [c for part in parts for c in part.ciphertexts],
            first.layout,
            bound=max(part.bound for part in parts),
        )

    # -- serialisation --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """All ciphertexts as fixed-width big-endian integers, back to back (key.ciphertext_bytes each)."""
        width = self.key.ciphertext_bytes
        return b"".join(int(c).to_bytes(width, "big") for c in self.ciphertexts)

    @classmethod
    def from_bytes(
        cls,
        key: PublicKey,
        data: bytes,
        layout: PackingLayout,
        *,
        rows: int,
        rows_per_ciphertext: int = 1,
        bound: int | None = None,
    ) -> CipherVector:
        """Parse `to_bytes` output, checking length and that every value lies in [1, modulus).

        Without `bound` the receiver assumes the worst the layout allows (the slot capacity).
        """
        width, m = key.ciphertext_bytes, key.modulus
        expected = -(-rows // rows_per_ciphertext)
        if len(data) != expected * width:
            raise CiphertextFormatError(
                f"expected {expected} ciphertexts of {width} bytes, got {len(data)} bytes"
            )
        view = memoryview(data)
        ciphertexts = []
        for start in range(0, len(data), width):
            c = mpz(int.from_bytes(view[start : start + width], "big"))
            if not 0 < c < m:
                raise CiphertextFormatError("a ciphertext lies outside [1, modulus)")
            ciphertexts.append(c)
        return cls(
            key,
            ciphertexts,
            layout,
            rows=rows,
            rows_per_ciphertext=rows_per_ciphertext,
            bound=layout.slot_capacity if bound is None else bound,
        )
