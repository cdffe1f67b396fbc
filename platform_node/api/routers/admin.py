"""`/v1/admin/*`: onboarding over HTTP (the same operations as `xyd institution ...`), agreements, limits,
and on-demand runs of the periodic jobs (monitoring sweep, webhook delivery, pushes, checkpoints, labels).
Admin role only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from consent.authorisation.codec import format_time
from platform_node.api.deps import AdminInstitution, Services
from platform_node.api.errors import ApiError
from platform_node.api.routers.alerts import delivery_out
from platform_node.api.schemas.admin import (
    AgreementIn,
    AgreementOut,
    DeliveryReportOut,
    ExpiryOut,
    InstitutionIn,
    InstitutionOut,
    IssuedKeyOut,
    LabelExportOut,
    LimitsIn,
    PushReportOut,
    SweepOut,
)
from platform_node.api.schemas.alerts import DeliveryOut
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.compliance import CheckpointOut
from platform_node.institutions.agreements import Agreement
from platform_node.institutions.model import Institution, InstitutionLimits
from platform_node.monitoring.delivery import DeliveryStatus
from platform_node.uses.labels import export_labels

router = APIRouter(prefix="/v1/admin", tags=["admin"])
_ERRORS = error_responses(401, 403, 404, 409, 422, 429)
InstitutionPath = Annotated[str, Path(description="Institution id `kind/slug`.")]


def institution_out(inst: Institution) -> InstitutionOut:
    return InstitutionOut(
        institution_id=inst.id, kind=inst.kind.value, name=inst.name, role=inst.role.value, status=inst.status.value,
        created_at=format_time(inst.created_at), rate_per_s=inst.limits.rate_per_s, burst=inst.limits.burst,
        daily_quota=inst.limits.daily_quota, webhook_url=inst.webhook_url,
    )


def agreement_out(agreement: Agreement) -> AgreementOut:
    return AgreementOut(
        agreement_id=agreement.id, institution_id=agreement.institution_id, scopes=sorted(agreement.scopes),
        reference=agreement.reference, not_before=format_time(agreement.not_before),
        not_after=format_time(agreement.not_after),
    )


@router.post("/institutions", response_model=IssuedKeyOut, status_code=201, summary="Onboard an institution",
             responses=_ERRORS)
def add_institution(body: InstitutionIn, admin: AdminInstitution, services: Services) -> IssuedKeyOut:
    limits = (InstitutionLimits(body.limits.rate_per_s, body.limits.burst, body.limits.daily_quota)
              if body.limits else services.settings.default_limits)
    inst, key = services.institutions.add(kind=body.kind, slug=body.slug, name=body.name, role=body.role,
                                          now=services.now(), limits=limits)
    return IssuedKeyOut(institution=institution_out(inst), api_key=key.token)


@router.get("/institutions", response_model=list[InstitutionOut], summary="List institutions", responses=_ERRORS)
def list_institutions(admin: AdminInstitution, services: Services) -> list[InstitutionOut]:
    return [institution_out(i) for i in services.institutions.list()]


@router.post("/institutions/{institution_id:path}/suspend", response_model=InstitutionOut,
             summary="Suspend an institution", responses=_ERRORS)
def suspend(institution_id: InstitutionPath, admin: AdminInstitution, services: Services) -> InstitutionOut:
    if institution_id == admin.id:
        raise ApiError(409, "SELF_SUSPEND", "an administrator cannot suspend its own institution")
    return institution_out(services.institutions.suspend(institution_id))


@router.post("/institutions/{institution_id:path}/reinstate", response_model=InstitutionOut,
             summary="Reinstate a suspended institution", responses=_ERRORS)
def reinstate(institution_id: InstitutionPath, admin: AdminInstitution, services: Services) -> InstitutionOut:
    return institution_out(services.institutions.reinstate(institution_id))


@router.post("/institutions/{institution_id:path}/rotate-key", response_model=IssuedKeyOut,
             summary="Issue a new API key and revoke the old ones", responses=_ERRORS)
def rotate_key(institution_id: InstitutionPath, admin: AdminInstitution, services: Services) -> IssuedKeyOut:
    key = services.institutions.rotate_key(institution_id, now=services.now())
    return IssuedKeyOut(institution=institution_out(services.institutions.get(institution_id)), api_key=key.token)


@router.put("/institutions/{institution_id:path}/limits", response_model=InstitutionOut,
            summary="Set rate limit and daily quota", responses=_ERRORS)
def set_limits(institution_id: InstitutionPath, body: LimitsIn, admin: AdminInstitution,
               services: Services) -> InstitutionOut:
    limits = InstitutionLimits(body.rate_per_s, body.burst, body.daily_quota)
    return institution_out(services.institutions.set_limits(institution_id, limits))


@router.post("/institutions/{institution_id:path}/agreements", response_model=AgreementOut, status_code=201,
             summary="Record a data-security agreement", responses=_ERRORS)
def add_agreement(institution_id: InstitutionPath, body: AgreementIn, admin: AdminInstitution,
                  services: Services) -> AgreementOut:
    if body.not_before.tzinfo is None or body.not_after.tzinfo is None:
        raise ApiError(422, "INVALID_REQUEST", "agreement times need a timezone (e.g. 2025-01-01T00:00:00Z)")
    agreement = services.agreements.record(institution_id, scopes=body.scopes, reference=body.reference,
                                           not_before=body.not_before, not_after=body.not_after, now=services.now())
    return agreement_out(agreement)


@router.post("/monitoring/run", response_model=SweepOut, summary="Run the monitoring sweep now", responses=_ERRORS)
def run_monitoring(admin: AdminInstitution, services: Services) -> SweepOut:
    report = services.monitoring.run(now=services.now())
    return SweepOut(candidates=report.candidates, rescored=report.rescored, failed=report.failed,
                    skipped_unauthorised=report.skipped_unauthorised, alert_ids=[a.id for a in report.alerts])


@router.post("/webhooks/deliver", response_model=DeliveryReportOut, summary="Deliver due webhooks now",
             responses=_ERRORS)
def deliver_webhooks(admin: AdminInstitution, services: Services) -> DeliveryReportOut:
    report = services.dispatcher.deliver_due(now=services.now())
    return DeliveryReportOut(delivered=report.delivered, retried=report.retried, dead=report.dead)


@router.get("/webhooks/dead-letters", response_model=list[DeliveryOut], summary="Dead-lettered deliveries",
            responses=_ERRORS)
def dead_letters(admin: AdminInstitution, services: Services,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    return [delivery_out(d) for d in services.outbox.list(status=DeliveryStatus.DEAD, limit=limit)]


@router.post("/webhooks/{delivery_id}/requeue", response_model=DeliveryOut, summary="Requeue a dead letter",
             responses=_ERRORS)
def requeue(delivery_id: str, admin: AdminInstitution, services: Services) -> DeliveryOut:
    try:
        return delivery_out(services.outbox.requeue(delivery_id, now=services.now()))
    except KeyError:
        raise ApiError(404, "NOT_FOUND", "no such dead letter") from None


@router.post("/subscriptions/push", response_model=PushReportOut, summary="Push subscription batches now",
             responses=_ERRORS)
def push_subscriptions(admin: AdminInstitution, services: Services) -> PushReportOut:
    report = services.pusher.run(now=services.now())
    return PushReportOut(batches=report.batches, items=report.items,
                         skipped_without_agreement=report.skipped_without_agreement)


@router.post("/consents/expire", response_model=ExpiryOut, summary="Expire due consent requests and consents now",
             responses=_ERRORS)
def expire_consents(admin: AdminInstitution, services: Services) -> ExpiryOut:
    """What the `consent-expiry` job does every `consent_expiry_every_s`: pending requests past their deadline
    and consents past their window become EXPIRED (each a leaf, and a `consent.changed` webhook to the bank)."""
    requests, consents = services.consent_desk.expire_due(now=services.now())
    return ExpiryOut(requests=requests, consents=consents)


@router.post("/audit/checkpoints", response_model=CheckpointOut, status_code=201,
             summary="Publish a signed checkpoint now", responses=_ERRORS)
def publish_checkpoint(admin: AdminInstitution, services: Services) -> CheckpointOut:
    publication = services.publisher.publish(now=services.now())
    return CheckpointOut(tree_size=publication.checkpoint.size, root=publication.checkpoint.root.hex(),
                         note=publication.note)


@router.post("/labels/export", response_model=LabelExportOut, summary="Export outcomes as training labels",
             responses=_ERRORS)
def labels(admin: AdminInstitution, services: Services, overdue_is_default: bool = False) -> LabelExportOut:
    report = export_labels(services.engine, now=services.now(), overdue_is_default=overdue_is_default)
    return LabelExportOut(exported=report.exported, positives=report.positives, negatives=report.negatives)


@router.get("/metrics", summary="Prometheus metrics of this process", response_class=PlainTextResponse,
            responses={**_ERRORS, 200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(admin: AdminInstitution) -> PlainTextResponse:
    """The process's metrics (scoring latency, refusals by code, HE operations, audit-log size, ...) for a
    Prometheus scraper holding an admin key; a platform node also serves them on its `[metrics]` listener."""
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
