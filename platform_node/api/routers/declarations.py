"""`GET /v1/declarations/{credit_code}`: a bank reads an enterprise's self-declared information under its
consent (whether or not the enterprise made it public). Bank role; every read and refusal is a leaf."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from consent.authorisation import Purpose
from platform_node.api.deps import BankInstitution, Services
from platform_node.api.schemas.common import CreditCode, error_responses
from platform_node.api.schemas.declarations import DeclarationReadOut
from platform_node.declarations import declaration_json

router = APIRouter(tags=["consent"])


@router.get("/v1/declarations/{credit_code}", response_model=DeclarationReadOut,
            summary="Self-declared information under consent", responses=error_responses(401, 403, 422, 429))
def read_declaration(
    credit_code: Annotated[CreditCode, Path()],
    consent_id: Annotated[str, Query(pattern=r"^auth-[0-9a-f]{64}$")],
    purpose: Annotated[Purpose, Query(description="Must be the consent's purpose.")],
    institution: BankInstitution,
    services: Services,
) -> DeclarationReadOut:
    """Needs an ACTIVE consent of this bank about this enterprise naming the data item
    `platform/main:self_declared`, for this purpose, within its window and its uses; refusals carry the same
    codes a source node's gate gives (`NOT_AUTHORISED`, `PAUSED`, `REVOKED`, `EXPIRED`, `SCOPE_EXCEEDED`,
    `WRONG_PURPOSE`, `BUDGET_EXHAUSTED`). The answer is flagged self-declared and never mixed with authoritative
    data."""
    read = services.declarations.read(institution.id, credit_code, consent_id=consent_id, purpose=purpose,
                                      now=services.now())
    return DeclarationReadOut(use_id=read.use_id, leaf_index=read.leaf_index,
                              declaration=None if read.declaration is None else declaration_json(read.declaration))
