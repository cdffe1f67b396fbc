"""Errors of data-use records and feedback."""

from __future__ import annotations

from errors import Conflict, InvalidInput, NotFound, Refused, Unavailable, XydError


class UseError(XydError):
    """Base of every error raised by `platform_node.uses`."""


class UseNotFound(UseError, NotFound):
    """No such use for this institution (another institution's use is reported the same way)."""

    def __init__(self, use_id: str) -> None:
        super().__init__(f"no use {use_id!r}")
        self.use_id = use_id


class InvalidFeedback(UseError, InvalidInput):
    """A feedback record is malformed (amount, rate or term out of range, or fields that do not belong)."""


class FeedbackConflict(UseError, Conflict):
    """The feedback does not fit the use's state (decision already given, repayment before a grant, ...)."""


class FeedbackOverdue(UseError, Refused):
    """The institution has too many uses without feedback past their deadline; policy refuses new uses."""

    def __init__(self, institution_id: str, overdue: int) -> None:
        super().__init__(f"{institution_id} has {overdue} uses with feedback past the deadline")
        self.institution_id, self.overdue = institution_id, overdue


class UseStoreUnavailable(UseError, Unavailable):
    """The database refused to record the uses (disk full, I/O error, connection lost): the request is refused
    whole, and the transaction that would have written its uses and audit leaves left nothing behind."""

    code = "AUDIT_STORE_UNAVAILABLE"
    default_public = "the use could not be recorded in the audit log; nothing was served: retry later"
