"""The error types of the HE engine: one small flat catalogue, every check raises one of these."""

from __future__ import annotations

from errors import InvalidInput, ProtocolViolation, Unavailable, XydError
from models.errors import KeyMismatchError, PackingOverflowError  # noqa: F401 (re-exported)


class HEError(XydError):
    """Base class of every failure the HE engine reports."""


class InsecureParametersError(HEError, InvalidInput):
    """A parameter set is below the engine's security floor (key size, exponent length, CKKS table)."""


class LayoutMismatchError(HEError, ProtocolViolation):
    """Two cipher vectors with different packing layouts (or row packing) were combined."""


class PlaintextRangeError(HEError, InvalidInput):
    """A value is outside the declared range: at encoding time, or after decryption (OU range check)."""


class ObfuscatorReuseError(HEError):
    """The same obfuscator turned up twice: serving it again would leak the difference of two plaintexts."""


class PoolClosedError(HEError, Unavailable):
    """The obfuscator pool was used outside its `with` block, or a worker died."""


class PoolExhaustedError(HEError, Unavailable):
    """More obfuscators were asked of a pool than its production limit allows."""


class CiphertextFormatError(HEError, ProtocolViolation, ValueError):
    """Serialised ciphertexts are malformed: wrong width, wrong length, or a value outside the group."""
