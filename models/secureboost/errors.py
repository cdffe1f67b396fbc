"""The errors SecureBoost raises: one small catalogue shared by both roles."""

from __future__ import annotations


class SecureBoostError(Exception):
    """Base class of every SecureBoost failure."""


class InvalidParameterError(SecureBoostError, ValueError):
    """A training parameter is out of its allowed range."""


class InvalidDataError(SecureBoostError, ValueError):
    """Features or labels do not have the shape or values the protocol requires."""


class ProtocolError(SecureBoostError):
    """A peer's message does not fit the protocol state (wrong tree, depth, node, size or layout)."""

    def __init__(self, what: str, expected: object, found: object) -> None:
        super().__init__(f"{what}: expected {expected!r}, found {found!r}")
        self.what, self.expected, self.found = what, expected, found


class PackingOverflowError(SecureBoostError):
    """A value does not fit its fixed-point field or slot; packing it would corrupt its neighbours."""


class PlaintextRefusedError(SecureBoostError):
    """A passive party was asked to train with encryption off but its policy does not allow it."""


class ModelIntegrityError(SecureBoostError):
    """A stored model part's hash, kind or version is not what it claims."""

    def __init__(self, what: str, expected: object, found: object) -> None:
        super().__init__(f"{what}: expected {expected!r}, found {found!r}")
        self.what, self.expected, self.found = what, expected, found


class InconsistentMasksError(SecureBoostError):
    """Combined leaf masks leave a row with zero or several leaves of a tree."""

    def __init__(self, tree: int, row: int, leaves: int) -> None:
        super().__init__(f"tree {tree}: row {row} has {leaves} allowed leaves, expected exactly 1")
        self.tree, self.row, self.leaves = tree, row, leaves
