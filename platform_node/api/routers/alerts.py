"""`/v1/alerts` (the lending bank's own alerts) and `/v1/webhook` (where and how they are pushed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from consent.authorisation.codec import format_time
from platform_node.api.deps import BankInstitution, Services, Settings
from platform_node.api.schemas.alerts import AlertListOut, AlertOut, DeliveryOut, WebhookIn, WebhookOut
from platform_node.api.schemas.common import error_responses
from platform_node.monitoring.alerts import alert_payload
from platform_node.monitoring.delivery import Delivery
from platform_node.monitoring.webhooks import SIGNATURE_HEADER

router = APIRouter(tags=["alerts"])


@router.get("/v1/alerts", response_model=AlertListOut, summary="Own risk alerts",
            responses=error_responses(401, 403, 429))
def list_alerts(
    institution: BankInstitution, services: Services, since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertListOut:
    found = services.alerts.list_for(institution.id, since=since, limit=limit)
    return AlertListOut(items=[AlertOut(**alert_payload(a)) for a in found])


@router.get("/v1/alerts/{alert_id}", response_model=AlertOut, summary="One own alert",
            responses=error_responses(401, 403, 404, 429))
def get_alert(alert_id: str, institution: BankInstitution, services: Services) -> AlertOut:
    return AlertOut(**alert_payload(services.alerts.get(alert_id, institution_id=institution.id)))


@router.put("/v1/webhook", response_model=WebhookOut, summary="Register the webhook URL (new secret)",
            responses=error_responses(401, 403, 422, 429))
def put_webhook(body: WebhookIn, institution: BankInstitution, services: Services, settings: Settings) -> WebhookOut:
    """Bank role only. Alerts and subscription batches are POSTed here with `XYD-Signature: t=<unix>,v1=<hex>`
    where the MAC is HMAC-SHA256(secret, "<t>." + body); failed deliveries are retried with exponential backoff
    and moved to a dead-letter queue after the configured number of attempts. Each call issues a new secret.
    The URL must be https on an allowed port (443 or 8443 unless the platform configures others) and its host
    must resolve only to public addresses (not loopback, link-local, private, shared, multicast or reserved
    ranges), else `422 INVALID_WEBHOOK`; the same rules are checked again before every delivery."""
    secret = services.institutions.set_webhook(institution.id, body.url, policy=settings.webhook_policy(),
                                               resolver=services.webhook_resolver)
    return WebhookOut(url=body.url, secret=secret.decode(), signature_header=SIGNATURE_HEADER)


def delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        delivery_id=d.id, event_type=d.event_type, event_id=d.event_id, status=d.status.value, attempts=d.attempts,
        next_attempt_at=format_time(d.next_attempt_at), last_error=d.last_error,
        delivered_at=None if d.delivered_at is None else format_time(d.delivered_at),
    )


@router.get("/v1/webhook/deliveries", response_model=list[DeliveryOut], summary="Own webhook deliveries",
            responses=error_responses(401, 403, 429))
def list_deliveries(
    institution: BankInstitution, services: Services, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeliveryOut]:
    """`last_error` is a category only: NO_WEBHOOK, ADDRESS_REFUSED, TIMEOUT, CONNECTION_REFUSED,
    CONNECTION_FAILED, TLS_ERROR, PROTOCOL_ERROR, HTTP_3XX, HTTP_4XX or HTTP_5XX."""
    return [delivery_out(d) for d in services.outbox.list(institution_id=institution.id, limit=limit)]
