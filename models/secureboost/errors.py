"""The errors SecureBoost raises: one small catalogue shared by both roles."""

from __future__ import annotations

from errors import InvalidInput, ProtocolViolation, Refused, XydError
from models.errors import InvalidParameterError, ModelIntegrityError, PackingOverflowError, ProtocolError  # noqa: F401 (re-exported)


class SecureBoostError(XydError):
    """Base class of every SecureBoost failure."""


class InvalidDataError(SecureBoostError, InvalidInput):
    """Features or labels do not have the shape or values the protocol requires."""


class PlaintextRefusedError(SecureBoostError, Refused):
    """A passive party was asked to train with encryption off but its policy does not allow it."""


class InconsistentMasksError(SecureBoostError, ProtocolViolation):
    """Combined leaf masks leave a row with zero or several leaves of a tree."""

    def __init__(self, tree: int, row: int, leaves: int) -> None:
        super().__init__(f"tree {tree}: row {row} has {leaves} allowed leaves, expected exactly 1")
        self.tree, self.row, self.leaves = tree, row, leaves
