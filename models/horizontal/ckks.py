"""CKKS (TenSEAL) keys split by role: banks encrypt and decrypt, the aggregator only adds ciphertexts.

Parameters are the project's `models.he.ckks.CkksParams` (checked against the 128-bit table there). The
key handling is local because horizontal learning needs two things `models.he.ckks` deliberately does
not offer: the banks SHARE one secret key (so the secret context must serialise, for out-of-band
distribution among banks only), and the aggregator gets a context with no key at all (parameters only),
since it never encrypts.
"""

from __future__ import annotations

import hashlib

import numpy as np
import tenseal as ts

from models.he.ckks import CkksParams
from models.horizontal.errors import InvalidParameterError, SecretKeyExposedError

# N=4096 gives 2048 slots (a binned logistic model has ~200 weights). Only encryption, addition and
# decryption are needed, so one 60-bit data prime suffices; the 49-bit special prime serves key switching;
# 60 + 49 = 109 bits is the 128-bit security maximum at N=4096. A 2^30 scale under the 60-bit prime leaves
# 29 bits of integer headroom (|value| < 5e8): count-weighted sums of weights and deciles stay below 1e6.
HORIZONTAL_CKKS = CkksParams(poly_degree=4096, coeff_bits=(60, 49), scale_bits=30)


def max_abs_value(params: CkksParams) -> float:
    """Largest magnitude a slot can hold before it wraps modulo the data prime."""
    return float(2 ** (params.coeff_bits[0] - params.scale_bits - 1))


def _public_only(context: ts.Context) -> bytes:
    return context.serialize(save_public_key=False, save_secret_key=False, save_galois_keys=False,
                             save_relin_keys=False)


class BankCkks:
    """A bank's CKKS key: encrypts its updates and decrypts aggregates. Never leaves the bank."""

    def __init__(self, context: ts.Context, params: CkksParams) -> None:
        if not context.has_secret_key():
            raise InvalidParameterError("a bank context needs the secret key")
        self._context = context
        self.params = params

    @classmethod
    def generate(cls, params: CkksParams = HORIZONTAL_CKKS) -> BankCkks:
        context = ts.context(ts.SCHEME_TYPE.CKKS, params.poly_degree, coeff_mod_bit_sizes=list(params.coeff_bits))
        context.global_scale = 2.0**params.scale_bits
        return cls(context, params)

    @classmethod
    def from_bytes(cls, secret_context: bytes, params: CkksParams) -> BankCkks:
        context = ts.context_from(secret_context)
        context.global_scale = 2.0**params.scale_bits
        return cls(context, params)

    def secret_bytes(self) -> bytes:
        """The full context with its secret key, for distribution to the other banks out of band only."""
        return self._context.serialize(save_secret_key=True, save_galois_keys=False, save_relin_keys=False)

    def fingerprint(self) -> str:
        """sha256 of the public key: equal across banks exactly when they share one key pair."""
        public = self._context.serialize(save_public_key=True, save_secret_key=False, save_galois_keys=False,
                                         save_relin_keys=False)
        return hashlib.sha256(public).hexdigest()

    def aggregator_context(self) -> bytes:
        """Parameters only (no secret, public, relinearisation or Galois key): enough to add ciphertexts."""
        return _public_only(self._context)

    def encrypt(self, values: np.ndarray) -> bytes:
        """Encrypt one vector into one ciphertext; refuses values that would wrap around the modulus."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) > self.params.slots:
            raise InvalidParameterError(f"need a vector of at most {self.params.slots} values, got {values.shape}")
        if not np.all(np.isfinite(values)) or np.max(np.abs(values), initial=0.0) >= max_abs_value(self.params):
            raise InvalidParameterError(f"values must be finite and below {max_abs_value(self.params):g} in magnitude")
        return ts.ckks_vector(self._context, values.tolist()).serialize()

    def decrypt(self, ciphertext: bytes) -> np.ndarray:
        return np.asarray(ts.ckks_vector_from(self._context, ciphertext).decrypt(), dtype=np.float64)


class AggregatorCkks:
    """The aggregator's view: parameters without any key; it can add ciphertexts and nothing more."""

    def __init__(self, context_bytes: bytes) -> None:
        context = ts.context_from(context_bytes)
        if context.has_secret_key():
            raise SecretKeyExposedError("the aggregator was handed a context with a secret key")
        self._context = context

    def add(self, ciphertexts: list[bytes]) -> bytes:
        """Sum ciphertexts encrypted under one (unknown to us) key."""
        if not ciphertexts:
            raise InvalidParameterError("nothing to sum")
        total = ts.ckks_vector_from(self._context, ciphertexts[0])
        for blob in ciphertexts[1:]:
            total = total + ts.ckks_vector_from(self._context, blob)
        return total.serialize()
