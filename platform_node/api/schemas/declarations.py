"""Request and public models of self-declared information (the enterprise's side and a bank's read)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from platform_node.api.schemas.common import RequestModel
from platform_node.api.schemas.consents import SignedIn


class CommitmentOut(BaseModel):
    version: int
    text: str = Field(description="The credit commitment (信用承诺) an enterprise signs with every declaration.")


class DeclarationIn(RequestModel):
    declaration: SignedIn = Field(description="The signed statement (`consent.enterprise.declarations`): the "
                                              "declaration, visibility, the commitment text, the signatory, the "
                                              "version it makes and the one it supersedes, time, key id, nonce.")


class DeclarationVersionOut(BaseModel):
    declaration_id: str
    version: int
    status: str = Field(description="CURRENT, SUPERSEDED or WITHDRAWN.")
    visibility: str | None
    recorded_at: str
    digest: str = Field(description="Hex SHA-256 of the signed bytes (the digest in its audit leaf).")
    declaration: dict[str, Any] | None = Field(None, description="The declared content with its commitment "
                                                                 "(none for a withdrawal).")


class DeclarationHistoryOut(BaseModel):
    items: list[DeclarationVersionOut]


class DeclarationReadOut(BaseModel):
    use_id: str
    leaf_index: int = Field(description="The read's `declaration_read` leaf.")
    declaration: dict[str, Any] | None = Field(description="The current declaration, flagged self-declared, or none.")
