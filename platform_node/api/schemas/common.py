"""Field types and models shared by several resources (public forms only)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from consent.audit.log import LeafReceipt
from consent.authorisation.codec import b64encode
from consent.credit_code import InvalidCreditCode, validate_credit_code


def _credit_code(value: str) -> str:
    try:
        validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValueError(f"invalid unified social credit code: {exc.public_reason}") from None
    return value


CreditCode = Annotated[
    str,
    StringConstraints(min_length=18, max_length=18),
    AfterValidator(_credit_code),
    Field(description="Unified social credit code (18 characters, GB 32100 check digits).",
          examples=["91330105MARQ283F4K"]),
]

LoanApplicationRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(description="The bank's loan application reference (letters, digits, `_ . -`; at most 64).",
          examples=["LA-2025-0001"]),
]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="Human-readable explanation (never contains data values).")
    errors: list[dict[str, str]] | None = Field(None, description="Per-field problems of a malformed request.")
    failed_sources: list[str] | None = Field(None, description="Source nodes that did not answer.")
    use_id: str | None = Field(None, description="A score request that got no score: the use recorded for it "
                                                 "(every look-up is a use and counts against the quota).")
    retry_after_s: int | None = Field(None, description="Seconds to wait (also in the Retry-After header).")


class LeafReceiptOut(BaseModel):
    """Where the use's audit leaf sits and the log root right after it was appended."""

    leaf_index: int
    leaf_hash: str = Field(description="Hex SHA-256 leaf hash (RFC 6962: SHA-256(0x00 || leaf)).")
    tree_size: int
    root: str = Field(description="Hex root of the log of `tree_size` leaves.")
    leaf: str = Field(description="Base64 of the leaf (canonical JSON of the audit event).")

    @classmethod
    def of(cls, receipt: LeafReceipt) -> LeafReceiptOut:
        return cls(leaf_index=receipt.index, leaf_hash=receipt.leaf_hash.hex(), tree_size=receipt.tree_size,
                   root=receipt.root.hex(), leaf=b64encode(receipt.leaf))


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries for error statuses, all with the `ErrorOut` body."""
    text = {
        401: "Missing or invalid API key.",
        403: "Authenticated but not allowed (role, suspension, agreement, policy).",
        404: "Not found (also for another institution's objects).",
        409: "Conflicts with the object's current state.",
        422: "Malformed request (field errors listed).",
        429: "Rate limit or quota reached; see Retry-After.",
        502: "The scoring service failed.",
        503: "A source node is unavailable.",
        504: "A source node missed its deadline.",
    }
    return {s: {"model": ErrorOut, "description": text.get(s, "Error.")} for s in statuses}
