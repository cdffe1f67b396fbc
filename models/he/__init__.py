"""The homomorphic-encryption engine: a phe-compatible Paillier fast path, Okamoto-Uchiyama, CKKS helpers.

Typical use (SecureBoost): the key holder encrypts packed (g, h) rows with obfuscators from a worker
pool; a passive party sums them into histogram buckets and packs the bucket sums; the key holder
decrypts the few packed ciphertexts. See docs/protocols/he.md. CKKS names load TenSEAL on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.he.cipher_vector import CipherVector
from models.he.codec import FixedPointCodec, PackingLayout
from models.he.decryptor import Decryptor
from models.he.encryptor import Encryptor
from models.he.errors import (
    CiphertextFormatError,
    HEError,
    InsecureParametersError,
    KeyMismatchError,
    LayoutMismatchError,
    ObfuscatorReuseError,
    PackingOverflowError,
    PlaintextRangeError,
    PoolClosedError,
    PoolExhaustedError,
)
from models.he.interop import from_phe_numbers, to_phe_numbers
from models.he.obfuscators import InlineObfuscators, ObfuscatorBatch, ObfuscatorSource, ObfuscatorSupply
from models.he.ou import OUKeypair, OUPublicKey, OUSecretKey
from models.he.paillier import PaillierKeypair, PaillierPublicKey, PaillierSecretKey
from models.he.params import OUParams, PaillierParams
from models.he.pool import ObfuscatorPool, PoolStats
from models.he.scheme import PublicKey, SecretKey
from models.he.wire import (
    cipher_vector_from_message,
    cipher_vector_to_message,
    public_key_from_message,
    public_key_to_message,
)

_CKKS_NAMES = (
    "CkksArray",
    "CkksContext",
    "CkksError",
    "CkksParams",
    "CkksPublicContext",
    "aggregate",
    "plain_matrix_times_encrypted",
    "plain_transpose_times_encrypted",
    "weighted_column_sum",
)

__all__ = [
    "CipherVector",
    "CiphertextFormatError",
    "Decryptor",
    "Encryptor",
    "FixedPointCodec",
    "HEError",
    "InlineObfuscators",
    "InsecureParametersError",
    "KeyMismatchError",
    "LayoutMismatchError",
    "OUKeypair",
    "OUParams",
    "OUPublicKey",
    "OUSecretKey",
    "ObfuscatorBatch",
    "ObfuscatorPool",
    "ObfuscatorReuseError",
    "ObfuscatorSource",
    "ObfuscatorSupply",
    "PackingLayout",
    "PackingOverflowError",
    "PaillierKeypair",
    "PaillierParams",
    "PaillierPublicKey",
    "PaillierSecretKey",
    "PlaintextRangeError",
    "PoolClosedError",
    "PoolExhaustedError",
    "PoolStats",
    "PublicKey",
    "SecretKey",
    "cipher_vector_from_message",
    "cipher_vector_to_message",
    "from_phe_numbers",
    "public_key_from_message",
    "public_key_to_message",
    "to_phe_numbers",
    *_CKKS_NAMES,
]


def __getattr__(name: str) -> Any:
    """Load the CKKS helpers (and TenSEAL) only when one of them is asked for."""
    if name in _CKKS_NAMES:
        return getattr(importlib.import_module("models.he.ckks"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
