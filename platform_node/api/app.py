"""The FastAPI application of the platform's bank and compliance API (routes only; state in `services`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from platform_node.api.errors import install_error_handlers
from platform_node.api.routers import admin, alerts, catalogue, compliance, models, reports, scores, uses
from platform_node.api.services import PlatformServices

API_VERSION = "1.0.0"

DESCRIPTION = """\
HTTP/JSON API of the xyd credit platform for banks, guarantors, third-party credit services, compliance
officers and platform administrators.

## Authentication and roles
Every call except `/v1/health` carries `Authorization: Bearer xyd.<key id>.<secret>`. Keys are issued by
`xyd institution add` / `rotate-key` (or the admin endpoints) and stored only as an HMAC under a server
pepper. Roles: `bank` (scores, uses, feedback, alerts, reports, subscriptions), `compliance`
(`/v1/compliance/*`), `admin` (`/v1/admin/*`). An unknown, wrong or revoked key is `401 UNAUTHENTICATED`;
a suspended institution is `403 INSTITUTION_SUSPENDED`. An institution only ever sees its own uses,
feedback, alerts, subscriptions and deliveries: another institution's id answers `404 NOT_FOUND`.

## Agreements, limits and quotas
Batch scoring, public reports and subscriptions need a data-security agreement on record whose scope
(`BULK_SCORING`, `PUBLIC_REPORTS`, `SUBSCRIPTIONS`) and term cover the request (`403 NO_AGREEMENT`).
Each institution has a request rate limit (token bucket) and a daily quota of scored enterprises (every
enterprise served counts; a request that would pass the quota is refused before scoring); both answer
`429` with a `Retry-After` header (`RATE_LIMITED`, `QUOTA_EXHAUSTED`).

## Errors
Every error body is `{"code", "message"}` plus, where relevant, `errors` (per-field problems of a
malformed request, `422 INVALID_REQUEST`; the submitted values are never echoed), `failed_sources`
or `retry_after_s`.

## Scoring and the partial-failure policy
`POST /v1/scores` and `POST /v1/scores/batch` return the probability of default, score, grade, reason
codes (data categories, never values), model id and version, a use id and the use's audit leaf receipt.
Purpose and loan application reference are required and recorded. If a source node is dead or misses
its deadline, the default policy `FAIL_ENTERPRISE` fails the affected enterprises (single: `503
SOURCE_UNAVAILABLE` / `504 DEADLINE_EXCEEDED`; batch: those items are `FAILED`, the others are served);
the platform may instead be configured `SCORE_DEGRADED`, in which case such scores carry
`degraded: true` and `missing_sources`. No wrong score is ever served silently.

## The pilot banks' common model
`GET /v1/models` lists the joint model `POST /v1/scores` uses and every horizontal model the pilot banks
trained together with Flower and published. Its variables are the banks' standardised loan-book
variables, which the platform does not hold: `POST /v1/models/{model_id}/scores` takes the applicant's
`variables` from the asking bank (used for that request only, never stored or logged) and answers like
`POST /v1/scores`, with a use, a feedback deadline and an audit receipt. Reason codes name the variables
that raised the risk most. Risk monitoring re-scores with the joint model only.

## Feedback (用数成效反馈) and training labels
Each score use has a feedback deadline (default 30 days). Post the decision, then repayment outcomes,
to `POST /v1/uses/{use_id}/feedback`. Institutions with overdue feedback are listed to compliance and,
by policy, throttled (`429`) or refused (`403 FEEDBACK_OVERDUE`). Outcomes are exported into the
platform table `platform_training_labels` (`POST /v1/admin/labels/export`): DEFAULT is label 1, ON_TIME
label 0, OVERDUE only with `overdue_is_default=true`; one row per granted loan, keyed by use id, with the
credit code the next training job joins on.

## Risk monitoring and webhooks
Loans (granted, not defaulted, within term) whose bank holds an ACTIVE MONITOR authorisation are
re-scored on a schedule and on demand (`POST /v1/uses/{use_id}/rescore`). A score drop or grade
downgrade beyond the configured thresholds creates an alert (`GET /v1/alerts`) pushed to the bank's
webhook (`PUT /v1/webhook`). Webhook POSTs carry `XYD-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>." + body)>`, `XYD-Delivery-Id` and `XYD-Event`; delivery is at-least-once with exponential backoff,
and a delivery that keeps failing is dead-lettered.

## Audit
Every score served, feedback received, alert pushed and compliance export is a leaf of the platform's
RFC 9162 Merkle log, written in the same transaction as the record. Responses carry the leaf receipt;
`GET /v1/uses/{use_id}/receipt` returns an inclusion proof against the latest signed checkpoint.
"""

TAGS = [
    {"name": "scores", "description": "Scoring with the published joint model."},
    {"name": "models", "description": "The models this API serves; scoring with the pilot banks' common model."},
    {"name": "uses", "description": "Own data-use records, feedback, receipts, on-demand re-scoring."},
    {"name": "alerts", "description": "Risk alerts and webhooks."},
    {"name": "public information", "description": "Public-information reports and subscriptions."},
    {"name": "compliance", "description": "Authorisations, uses, overdue feedback, audit log (compliance role)."},
    {"name": "catalogue", "description": "The city-wide list of data items and requests to expand it."},
    {"name": "admin", "description": "Onboarding, agreements, limits, periodic jobs (admin role)."},
    {"name": "health", "description": "Liveness."},
]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    services: PlatformServices | None = app.state.services
    if services is not None:
        await services.shutdown_on_loop()


def create_app(services: PlatformServices | None = None) -> FastAPI:
    """The app; `services=None` is enough to render the OpenAPI document."""
    app = FastAPI(title="xyd platform API", version=API_VERSION, description=DESCRIPTION, openapi_tags=TAGS,
                  lifespan=_lifespan)
    app.state.services = services
    install_error_handlers(app)
    for module in (scores, models, uses, alerts, reports, catalogue, compliance, admin):
        app.include_router(module.router)

    @app.get("/v1/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
