"""Which published joint model scores a request: the one the bank names, else the platform's default for the
purpose, else the latest published; and which challenger, if any, is scored in the shadow per purpose.

Configured in the platform's `[api.models]` table:

    [api.models]
    default = "sb-job-1"                 # optional: without it, the latest published model
    PRE_LOAN_REVIEW = "lr-job-2"         # per purpose (UPPER_SNAKE purpose codes)
    [api.models.challengers]
    PRE_LOAN_REVIEW = "sc-job-3"         # scored in the shadow on live traffic, recorded, never returned
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from errors import ConfigurationError
from federation.job_ids import InvalidJobId, check_model_id


class ModelChoiceError(ConfigurationError):
    """The `[api.models]` table is malformed."""


@dataclass(frozen=True)
class ModelChoice:
    """The default model (empty: the latest published), per-purpose defaults and per-purpose challengers."""

    default: str = ""
    purposes: Mapping[str, str] = field(default_factory=dict)
    challengers: Mapping[str, str] = field(default_factory=dict)

    def for_purpose(self, purpose: str) -> str:
        """The model id configured for `purpose` (empty: the latest published)."""
        return self.purposes.get(purpose, self.default)

    def challenger(self, purpose: str) -> str:
        """The challenger scored in the shadow for `purpose` (empty: none)."""
        return self.challengers.get(purpose, "")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> ModelChoice:
        """Parse `[api.models]`: `default`, purpose codes to model ids, and a `challengers` sub-table."""
        if not isinstance(table, Mapping):
            raise ModelChoiceError("[api.models] must be a table")
        purposes, default, challengers = {}, "", {}
        for key, value in table.items():
            if key == "challengers":
                if not isinstance(value, Mapping):
                    raise ModelChoiceError("[api.models.challengers] must be a table of purpose = model id")
                challengers = {_purpose(k, "challengers"): _model_id(k, v) for k, v in value.items()}
            elif key == "default":
                default = _model_id(key, value)
            else:
                purposes[_purpose(key, "models")] = _model_id(key, value)
        return cls(default, purposes, challengers)


def _purpose(key: Any, table: str) -> str:
    if not (isinstance(key, str) and key.isupper()):
        raise ModelChoiceError(f"[api.{table}]: {key!r} is not a purpose code")
    return key


def _model_id(key: str, value: Any) -> str:
    try:
        return check_model_id(value)
    except InvalidJobId as exc:
        raise ModelChoiceError(f"[api.models] {key}: {exc}") from None
