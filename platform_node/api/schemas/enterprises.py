"""Request and public models of enterprise accounts and keys (the enterprise's own side of the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from platform_node.api.schemas.common import LeafReceiptOut, RequestModel

Base64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$", max_length=16_384),
                   Field(description="Standard base64 (with padding).")]


class IdentityProofIn(RequestModel):
    """A statement signed by the enterprise's identity credential and by the key it asks to bind
    (`consent.enterprise.identity`; the `xyd enterprise` CLI makes it)."""

    provider: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="The identity provider, e.g. "
                                                                         "`local-certificate`.")
    statement: Base64 = Field(description="Canonical JSON of the key statement (purpose, audience, credit code, "
                                          "signatory, enterprise key, time, nonce).")
    signature: Base64 = Field(description="The identity credential's signature over the statement.")
    credential: Base64 = Field(description="The provider's evidence, e.g. the enterprise certificate (PEM).")
    key_signature: Base64 = Field(description="The new enterprise key's signature over the statement.")


class SignUpIn(RequestModel):
    proof: IdentityProofIn


class RecoveryIn(RequestModel):
    proof: IdentityProofIn
    revoked_from: datetime = Field(description="Every earlier key is revoked from this instant (not in the "
                                               "future; back-date it to when the key may have been lost).")


class RotationIn(RequestModel):
    statement: Base64 = Field(description="Canonical JSON of a ROTATE key statement naming the new key.")
    key_signature: Base64 = Field(description="The new key's signature over the statement.")


class EnterpriseKeyOut(BaseModel):
    key_id: str
    public_key: str = Field(description="Base64 of the raw Ed25519 public key.")
    valid_from: str
    valid_until: str | None
    revoked_at: str | None


class EnterpriseAccountOut(BaseModel):
    credit_code: str
    name: str
    signatory: str
    signatory_role: str
    identity_check: str
    provider: str
    status: str
    created_at: str
    keys: list[EnterpriseKeyOut]


class KeyChangeOut(BaseModel):
    credit_code: str
    key_id: str = Field(description="The key bound now.")
    revoked_key_ids: list[str]
    audit: list[LeafReceiptOut] = Field(description="The `enterprise_key_changed` leaves of this change.")
