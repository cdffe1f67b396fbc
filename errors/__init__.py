"""The error catalogue: every failure xyd raises on purpose is one of a few kinds, all below `XydError`.

A kind says what a caller can do about it (fix the input, ask for something else, wait, stop trusting the
data). Each error carries a stable `code` and a `public_message`; the edges (gRPC: `federation.grpc_errors`,
HTTP: `platform_node.api.errors`) log the detail and send only those. Domain packages keep their own
classes (`ConsentError`, `IntakeError`, ...) but root them here, so an edge never needs to know them all.
"""

from __future__ import annotations


class XydError(Exception):
    """Root of the catalogue. `code` is stable and public; the message is public only where the kind says so.

    `public` overrides the public text of one error (for a message that must hide its detail).
    """

    code = "INTERNAL"
    default_public = "internal error"
    detail_is_public = False

    def __init__(self, message: str = "", *, code: str | None = None, public: str | None = None) -> None:
        super().__init__(message or self.default_public)
        if code is not None:
            self.code = code
        self._public = public

    @property
    def public_message(self) -> str:
        """What a caller may read: the override, else the message if this kind's messages are written for
        callers, else the kind's generic text."""
        if self._public is not None:
            return self._public
        return str(self) if self.detail_is_public else self.default_public


class InvalidInput(XydError, ValueError):
    """The caller's request, file or parameters are malformed or out of range: fix them and retry."""

    code = "INVALID_INPUT"
    default_public = "the request is invalid"
    detail_is_public = True


class NotFound(XydError, LookupError):
    """What the caller named does not exist (or is not theirs to see)."""

    code = "NOT_FOUND"
    default_public = "not found"
    detail_is_public = True


class Refused(XydError):
    """The caller may not do this: identity, role, authorisation, approval or policy."""

    code = "REFUSED"
    default_public = "refused"
    detail_is_public = True


class Conflict(XydError):
    """The current state does not allow it (a state transition not allowed, a duplicate, out of order)."""

    code = "CONFLICT"
    default_public = "the request conflicts with the current state"
    detail_is_public = True


class AlreadyExists(Conflict):
    """What the caller wants to create exists already."""

    code = "ALREADY_EXISTS"
    default_public = "already exists"


class IllegalTransition(Conflict):
    """A state change outside a state machine's allowed set (including any change out of a terminal state)."""

    code = "ILLEGAL_TRANSITION"

    def __init__(self, current: str, wanted: str, *, what: str = "") -> None:
        super().__init__(f"{what + ': ' if what else ''}transition {current} -> {wanted} is not allowed")
        self.source, self.target = current, wanted


class IntegrityFailure(XydError):
    """Data, a signature or a proof does not verify: tampering or corruption; never trust the result."""

    code = "INTEGRITY"
    default_public = "integrity check failed"


class Unavailable(XydError):
    """A peer or a dependency cannot be reached or is not ready: retry later."""

    code = "UNAVAILABLE"
    default_public = "temporarily unavailable"


class ProtocolViolation(XydError):
    """A peer sent what the protocol forbids (wrong message, size, order or version)."""

    code = "PROTOCOL"
    default_public = "protocol violation"


class ConfigurationError(XydError, ValueError):
    """A process's own configuration is missing a setting or holds an invalid one (found at start-up)."""

    code = "CONFIG"
    default_public = "configuration error"
    detail_is_public = True


__all__ = ["AlreadyExists", "ConfigurationError", "Conflict", "IllegalTransition", "IntegrityFailure", "InvalidInput", "NotFound",
           "ProtocolViolation", "Refused", "Unavailable", "XydError"]
