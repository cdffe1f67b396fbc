"""The error types of the HE engine: one small flat catalogue, every check raises one of these."""

from __future__ import annotations


class HEError(Exception):
    """Base class of every failure the HE engine reports."""


class InsecureParametersError(HEError, ValueError):
    """A parameter set is below the engine's security floor (key size, exponent length, CKKS table)."""


class KeyMismatchError(HEError):
    """Ciphertexts or keys that belong to different key pairs were combined."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"key mismatch: expected key {expected}, found {found}")
        self.expected, self.found = expected, found


class LayoutMismatchError(HEError):
    """Two cipher vectors with different packing layouts (or row packing) were combined."""


class PackingOverflowError(HEError):
    """An operation could make a slot exceed its width, so sums would bleed into the next slot."""

    def __init__(self, bound: int, capacity: int) -> None:
        super().__init__(f"slot bound {bound} would exceed the slot capacity {capacity}")
        self.bound, self.capacity = bound, capacity


class PlaintextRangeError(HEError, ValueError):
    """A value is outside the declared range: at encoding time, or after decryption (OU range check)."""


class ObfuscatorReuseError(HEError):
    """The same obfuscator turned up twice: serving it again would leak the difference of two plaintexts."""


class PoolClosedError(HEError):
    """The obfuscator pool was used outside its `with` block, or a worker died."""


class PoolExhaustedError(HEError):
    """More obfuscators were asked of a pool than its production limit allows."""


class CiphertextFormatError(HEError, ValueError):
    """Serialised ciphertexts are malformed: wrong width, wrong length, or a value outside the group."""
