"""Exchange ciphertexts with python-paillier (phe): EncryptedNumber lists <-> one-slot cipher vectors.

phe encodes x as mantissa * 16^exponent; a one-slot fixed-point vector with frac_bits = 4k is the
same number with exponent -k, so the ciphertexts move across unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import phe
from gmpy2 import mpz

from models.he.cipher_vector import CipherVector
from models.he.codec import FixedPointCodec, PackingLayout
from models.he.errors import KeyMismatchError, LayoutMismatchError
from models.he.paillier import PaillierPublicKey

PHE_BASE_BITS = 4  # phe's EncodedNumber.BASE is 16


def to_phe_numbers(vector: CipherVector) -> list[phe.EncryptedNumber]:
    """phe EncryptedNumbers for a one-slot Paillier vector whose frac_bits is a multiple of 4."""
    if not isinstance(vector.key, PaillierPublicKey):
        raise KeyMismatchError("a Paillier key", vector.key.scheme)
    if vector.layout.slots != 1 or vector.rows_per_ciphertext != 1:
        raise LayoutMismatchError("only one-slot, unpacked vectors map to phe numbers")
    if vector.layout.codec.frac_bits % PHE_BASE_BITS:
        raise LayoutMismatchError("frac_bits must be a multiple of 4 to match phe's base-16 exponents")
    public = vector.key.to_phe()
    exponent = -(vector.layout.codec.frac_bits // PHE_BASE_BITS)
    return [phe.EncryptedNumber(public, int(c), exponent) for c in vector.ciphertexts]


def from_phe_numbers(
    key: PaillierPublicKey, numbers: Sequence[phe.EncryptedNumber], max_abs: float
) -> CipherVector:
    """A one-slot vector from phe EncryptedNumbers (aligned to their smallest exponent) with |x| <= max_abs."""
    if not numbers:
        raise ValueError("no numbers")
    if any(number.public_key.n != key.n for number in numbers):
        raise KeyMismatchError(key.fingerprint, "phe numbers under another key")
    exponent = min(0, min(number.exponent for number in numbers))
    aligned = [
        number.decrease_exponent_to(exponent) if number.exponent != exponent else number for number in numbers
    ]
    codec = FixedPointCodec(-exponent * PHE_BASE_BITS, max_abs)
    layout = PackingLayout.scalar(codec, key.plaintext_bits)
    ciphertexts = [mpz(number.ciphertext(be_secure=False)) for number in aligned]
    return CipherVector(key, ciphertexts, layout, bound=codec.unit)
