"""The typed failures of a PSI run; every one of them stops the run on this side."""

from __future__ import annotations

from errors import ProtocolViolation, XydError


class PsiError(XydError):
    """Base class of every PSI failure."""


class PsiConfigMismatch(PsiError, ProtocolViolation):
    """The two sides disagree on a setting both must share (version, suite, roles, who learns)."""

    def __init__(self, field: str, mine: object, theirs: object) -> None:
        super().__init__(f"PSI setting {field!r} differs: this side has {mine!r}, the peer has {theirs!r}")
        self.field, self.mine, self.theirs = field, mine, theirs


class PsiProtocolError(PsiError, ProtocolViolation):
    """A peer message is malformed (wrong batch index, point count or length, oversized set)."""


class InvalidPointError(PsiError, ProtocolViolation):
    """Blinding a point gave the identity: the input was a low-order point, never the hash of an id."""

    def __init__(self, index: int) -> None:
        super().__init__(f"point {index} of the batch has low order (all-zero X25519 output)")
        self.index = index

    def __reduce__(self) -> tuple[type[InvalidPointError], tuple[int]]:
        return (InvalidPointError, (self.index,))  # raised in a pool worker, re-raised in the run


class PsiSizeMismatch(PsiError, ProtocolViolation):
    """The two sides computed different intersection sizes: one of them did not follow the protocol."""

    def __init__(self, mine: int, theirs: int) -> None:
        super().__init__(f"intersection size differs: this side computed {mine}, the peer reports {theirs}")
        self.mine, self.theirs = mine, theirs
