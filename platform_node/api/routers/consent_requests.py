"""`GET /v1/consent-catalogue` and `/v1/consent-requests`: a bank asks an enterprise for consent to named data items,
for a purpose, a window, a number of uses and a loan application, and follows what becomes of it (by polling
here or through its webhook: event `consent.changed`). Bank role; a bank sees its own requests only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from consent.authorisation.codec import b64encode, format_time
from platform_node.api.deps import BankInstitution, Services
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.consents import (
    CatalogueItemOut,
    CatalogueOut,
    ConsentRequestIn,
    ConsentRequestListOut,
    ConsentRequestOut,
)
from platform_node.api.services import PlatformServices
from platform_node.consent_requests import ConsentRequest, RequestStatus

router = APIRouter(tags=["consent"])


def request_out(services: PlatformServices, request: ConsentRequest, cls=ConsentRequestOut, **extra):
    spec = request.spec
    record = services.consent_desk.consent_of(request)
    return cls(
        request_id=request.id, institution_id=request.institution_id, credit_code=spec.credit_code,
        data_items=list(spec.data_items), providers=list(spec.providers),
        categories=[f"{c.name}:{c.sensitivity.value}" for c in spec.categories], mode=spec.mode.value,
        purpose=spec.purpose.value, loan_application_ref=spec.loan_application_ref,
        not_before=format_time(spec.not_before), not_after=format_time(spec.not_after), max_uses=spec.max_uses,
        data_range=list(spec.data_range), data_life_days=spec.data_life_days,
        feedback_deadline_days=spec.feedback_deadline_days, status=request.status.value,
        created_at=format_time(request.created_at), respond_by=format_time(request.respond_by),
        updated_at=format_time(request.updated_at), authorisation_id=request.authorisation_id,
        consent_status=None if record is None else record.status.value,
        artefact=None if record is None else {"payload": b64encode(record.artefact.payload),
                                              "signature": b64encode(record.artefact.signature)},
        **extra,
    )


@router.get("/v1/consent-catalogue", response_model=CatalogueOut, summary="Data items a consent request may name (verification fields)",
            responses=error_responses(401, 403, 429))
def get_catalogue(institution: BankInstitution, services: Services) -> CatalogueOut:
    """What a consent request may name: each source node's fields (name, category, sensitivity, type, period;
    never a value), as the nodes announced them to the consent registry, and the platform's own item
    `platform/main:self_declared` (an enterprise's self-declared information that is not public)."""
    return CatalogueOut(items=[
        CatalogueItemOut(item=e.item, provider=e.provider, field=e.field.name, category=e.field.category,
                         sensitivity=e.field.sensitivity.value, value_type=e.field.value_type.value,
                         period=e.field.period)
        for e in services.consent_desk.catalogue()])


@router.post("/v1/consent-requests", response_model=ConsentRequestOut, status_code=201,
             summary="Ask an enterprise for consent", responses=error_responses(401, 403, 422, 429))
def create_request(body: ConsentRequestIn, institution: BankInstitution, services: Services) -> ConsentRequestOut:
    """PENDING until the enterprise approves it (signing the terms), declines it, or lets it expire
    (`consent_respond_within_days`, at most the window). The terms are built from this request and the
    enterprise's account; `422 INVALID_CONSENT_REQUEST` names how many data items are not in the catalogue."""
    request = services.consent_desk.ask(
        institution.id, credit_code=body.credit_code, data_items=body.data_items, purpose=body.purpose,
        mode=body.mode, loan_application_ref=body.loan_application_ref, valid_for=timedelta(days=body.valid_days),
        max_uses=body.max_uses, data_range=body.data_range, data_life_days=body.data_life_days,
        feedback_deadline_days=body.feedback_deadline_days, now=services.now())
    return request_out(services, request)


@router.get("/v1/consent-requests", response_model=ConsentRequestListOut, summary="Own consent requests",
            responses=error_responses(401, 403, 429))
def list_requests(institution: BankInstitution, services: Services, status: RequestStatus | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ConsentRequestListOut:
    found = services.consent_desk.list(institution_id=institution.id, status=status, limit=limit)
    return ConsentRequestListOut(items=[request_out(services, r) for r in found])


@router.get("/v1/consent-requests/{request_id}", response_model=ConsentRequestOut, summary="One own consent request",
            responses=error_responses(401, 403, 404, 429))
def get_request(request_id: str, institution: BankInstitution, services: Services) -> ConsentRequestOut:
    """With the consent's status and the enterprise-signed artefact once approved (another bank's request is
    `404` like a missing one)."""
    return request_out(services, services.consent_desk.of_bank(institution.id, request_id))
