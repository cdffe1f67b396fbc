"""Errors every algorithm shares, defined once; each algorithm's own errors sit in its package.

All are kinds of the catalogue (`errors`), so the edges map them without knowing the algorithms.
"""

from __future__ import annotations

from errors import IntegrityFailure, InvalidInput, ProtocolViolation

_UNSET = object()


class InvalidParameterError(InvalidInput):
    """A parameter of an algorithm (crypto, training or privacy) is out of its allowed range."""


class ProtocolError(ProtocolViolation):
    """A peer's message does not fit the protocol state (wrong step, size, layout, version or field)."""

    def __init__(self, what: str, expected: object = _UNSET, found: object = _UNSET) -> None:
        super().__init__(what if expected is _UNSET else f"{what}: expected {expected!r}, found {found!r}")
        self.what = what
        self.expected = None if expected is _UNSET else expected
        self.found = None if found is _UNSET else found


class KeyMismatchError(ProtocolViolation):
    """Ciphertexts or keys of different key pairs were combined (or parties do not share one key)."""

    def __init__(self, expected: str, found: str, *, what: str = "key") -> None:
        super().__init__(f"{what} mismatch: expected {expected}, found {found}")
        self.expected, self.found = expected, found


class ModelIntegrityError(IntegrityFailure):
    """A stored model or model part's hash, format, kind or version is not what it claims."""

    def __init__(self, what: str, expected: object, found: object) -> None:
        super().__init__(f"{what}: expected {expected!r}, found {found!r}")
        self.what, self.expected, self.found = what, expected, found


class PackingOverflowError(InvalidInput):
    """A value does not fit its fixed-point field or packed slot; packing it would corrupt its neighbours.

    Raised with a message, or with the slot `bound` an operation could reach and the slot's `capacity`."""

    def __init__(self, message_or_bound: str | int, capacity: int | None = None) -> None:
        if capacity is None:
            super().__init__(str(message_or_bound))
            self.bound = self.capacity = None
        else:
            super().__init__(f"slot bound {message_or_bound} would exceed the slot capacity {capacity}")
            self.bound, self.capacity = message_or_bound, capacity
