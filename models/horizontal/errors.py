"""The errors horizontal learning raises: one small catalogue shared by the banks and the aggregator."""

from __future__ import annotations

from errors import IntegrityFailure, InvalidInput, Refused, XydError
from models.errors import InvalidParameterError, KeyMismatchError, ModelIntegrityError  # noqa: F401 (re-exported)


class HorizontalError(XydError):
    """Base class of every horizontal-learning failure."""


class InvalidTableError(HorizontalError, InvalidInput):
    """A bank's table does not have the columns or values training requires."""


class SecretKeyExposedError(HorizontalError, Refused):
    """A context handed to the aggregator carries a secret key: refusing to use it."""


class AggregateRefusedError(HorizontalError, Refused):
    """A bank refuses a decrypted aggregate that does not sum enough banks' contributions."""

    def __init__(self, expected_at_least: int, found: float) -> None:
        super().__init__(f"aggregate sums {found:g} contributions, fewer than the {expected_at_least} required")
        self.expected_at_least, self.found = expected_at_least, found


class SealBrokenError(HorizontalError, IntegrityFailure):
    """A sealed model did not open: wrong key, wrong run/round binding, or tampered bytes."""


class PublicationMismatchError(HorizontalError, IntegrityFailure):
    """The banks published different final models from the same aggregate."""


class PrivacyBudgetExceededError(HorizontalError, Refused):
    """Training would spend more differential-privacy budget than the bank allows."""

    def __init__(self, limit: float, projected: float) -> None:
        super().__init__(f"privacy budget: epsilon {projected:.3f} would exceed the limit {limit:.3f}")
        self.limit, self.projected = limit, projected


class InvalidVariablesError(HorizontalError, InvalidInput):
    """An applicant's variables do not fit the model: some missing, some unknown, or some not finite.

    Carries variable names only, never values, so the message can go back to the caller and into logs.
    """

    def __init__(self, missing: tuple[str, ...], unknown: tuple[str, ...], not_finite: tuple[str, ...]) -> None:
        parts = [f"{what}: {', '.join(names)}" for what, names in
                 (("missing", missing), ("not variables of this model", unknown), ("not finite", not_finite))
                 if names]
        super().__init__("variables do not fit the model: " + "; ".join(parts))
        self.missing, self.unknown, self.not_finite = missing, unknown, not_finite
