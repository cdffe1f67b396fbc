"""Protobuf forms of public keys, layouts, cipher vectors and CKKS payloads (federation/proto/he.proto).

Whatever arrives is validated: key sizes against the parameter floors, ciphertext widths and ranges,
CKKS contexts for a stray secret key. The slot bound is sent only on request (it depends on bucket
sizes, so it is metadata the sender may not want to reveal).
"""

from __future__ import annotations

from federation.proto import he_pb2
from models.he.cipher_vector import CipherVector
from models.he.codec import FixedPointCodec, PackingLayout
from models.he.errors import CiphertextFormatError, KeyMismatchError
from models.he.ou import OUPublicKey
from models.he.paillier import PaillierPublicKey
from models.he.params import OUParams, PaillierParams
from models.he.scheme import PublicKey


def _int_bytes(value: int) -> bytes:
    return int(value).to_bytes((int(value).bit_length() + 7) // 8 or 1, "big")


def _announced_exponent_bits(params: PaillierParams | OUParams) -> int:
    # The key owner's exponent length travels with its key; a receiver re-randomises with it, and its own
    # parameter check refuses anything below twice the key's security strength.
    return params.exponent_bits or 0


def public_key_to_message(key: PublicKey) -> he_pb2.PublicKey:
    """The public key as a message."""
    if isinstance(key, PaillierPublicKey):
        return he_pb2.PublicKey(
            paillier=he_pb2.PaillierPublicKey(
                n=_int_bytes(key.n), exponent_bits=_announced_exponent_bits(key.params)
            )
        )
    if isinstance(key, OUPublicKey):
        return he_pb2.PublicKey(
            ou=he_pb2.OUPublicKey(
                n=_int_bytes(key.n),
                g=_int_bytes(key.g),
                h=_int_bytes(key.h),
                prime_bits=key.prime_bits,
                exponent_bits=_announced_exponent_bits(key.params),
            )
        )
    raise TypeError(f"unsupported key type {type(key).__name__}")


def public_key_from_message(
    message: he_pb2.PublicKey, *, allow_insecure_for_tests: bool = False
) -> PublicKey:
    """Rebuild a public key, enforcing the parameter floors (small keys only with the test flag)."""
    which = message.WhichOneof("key")
    if which == "paillier":
        n = int.from_bytes(message.paillier.n, "big")
        params = PaillierParams(
            key_bits=n.bit_length(),
            exponent_bits=message.paillier.exponent_bits or None,
            allow_insecure_for_tests=allow_insecure_for_tests,
        )
        return PaillierPublicKey(n, params)
    if which == "ou":
        ou = message.ou
        params = OUParams(
            key_bits=3 * ou.prime_bits,
            exponent_bits=ou.exponent_bits or None,
            allow_insecure_for_tests=allow_insecure_for_tests,
        )
        return OUPublicKey(
            int.from_bytes(ou.n, "big"),
            int.from_bytes(ou.g, "big"),
            int.from_bytes(ou.h, "big"),
            ou.prime_bits,
            params,
        )
    raise CiphertextFormatError("the message carries no public key")


def layout_to_message(layout: PackingLayout) -> he_pb2.PackingLayout:
    """The layout as a message."""
    return he_pb2.PackingLayout(
        slots=layout.slots,
        slot_bits=layout.slot_bits,
        frac_bits=layout.codec.frac_bits,
        max_abs=layout.codec.max_abs,
    )


def layout_from_message(message: he_pb2.PackingLayout) -> PackingLayout:
    """Rebuild a layout (validated by its constructors)."""
    try:
        codec = FixedPointCodec(message.frac_bits, message.max_abs)
        return PackingLayout(codec=codec, slots=message.slots, slot_bits=message.slot_bits)
    except ValueError as error:
        raise CiphertextFormatError(f"invalid packing layout: {error}") from error


def cipher_vector_to_message(vector: CipherVector, *, include_bound: bool = False) -> he_pb2.CipherVector:
    """The vector as a message; the slot bound travels only with `include_bound`."""
    return he_pb2.CipherVector(
        scheme=vector.key.scheme,
        key_fingerprint=vector.key.fingerprint,
        layout=layout_to_message(vector.layout),
        rows=vector.rows,
        rows_per_ciphertext=vector.rows_per_ciphertext,
        ciphertext_bytes=vector.key.ciphertext_bytes,
        ciphertexts=vector.to_bytes(),
        bound=_int_bytes(vector.bound) if include_bound else b"",
    )


def cipher_vector_from_message(message: he_pb2.CipherVector, key: PublicKey) -> CipherVector:
    """Rebuild a vector under `key`, refusing ciphertexts made under another key or of the wrong width."""
    if message.scheme != key.scheme or message.key_fingerprint != key.fingerprint:
        raise KeyMismatchError(key.fingerprint, f"{message.scheme}:{message.key_fingerprint}")
    if message.ciphertext_bytes != key.ciphertext_bytes:
        raise CiphertextFormatError(
            f"ciphertext width {message.ciphertext_bytes}, key needs {key.ciphertext_bytes}"
        )
    if message.rows_per_ciphertext < 1:
        raise CiphertextFormatError("rows_per_ciphertext must be >= 1")
    return CipherVector.from_bytes(
        key,
        message.ciphertexts,
        layout_from_message(message.layout),
        rows=message.rows,
        rows_per_ciphertext=message.rows_per_ciphertext,
        bound=int.from_bytes(message.bound, "big") if message.bound else None,
    )
