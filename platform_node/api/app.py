"""The FastAPI application of the platform's bank and compliance API (routes only; state in `services`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from platform_node.api.errors import ApiError, install_error_handlers
from platform_node.api.observability import RequestObservation
from platform_node.api.request_gate import RequestGate
from platform_node.api.routers import (
    admin,
    alerts,
    catalogue,
    compliance,
    consent_requests,
    declarations,
    enterprise,
    enterprise_accounts,
    models,
    reports,
    scores,
    statistics,
    uses,
    verifications,
)
from platform_node.api.schemas.common import ErrorOut
from platform_node.api.services import PlatformServices

API_VERSION = "1.0.0"

DESCRIPTION = """\
HTTP/JSON API of the xyd credit platform for banks, guarantors, third-party credit services, compliance
officers and platform administrators.

## Authentication and roles
Every call except `/v1/health` carries `Authorization: Bearer xyd.<key id>.<secret>`. Keys are issued by
`xyd institution add` / `rotate-key` (or the admin endpoints) and stored only as an HMAC under a server
pepper. Roles: `bank` (scores, uses, feedback, alerts, reports, subscriptions, its own financing
statistics), `compliance` (`/v1/compliance/*`), `admin` (`/v1/admin/*`), `statistics` (the first-loan and
renewal centre: `GET /v1/statistics/financing` only). An unknown, wrong or revoked key is `401 UNAUTHENTICATED`;
a suspended institution is `403 INSTITUTION_SUSPENDED`. An institution only ever sees its own uses,
feedback, alerts, subscriptions and deliveries: another institution's id answers `404 NOT_FOUND` (a use id
of another institution given as the `after` cursor is ignored like one that does not exist).

The key is checked before the request's body is read: without a valid key every `/v1/` route (except
`/v1/health`, and unknown routes included) answers `401` whatever the body, so a malformed body without a
key is `401`, never `422`.

## Enterprises
Enterprises hold no API key. One signs up (`POST /v1/enterprise-accounts`) with an identity proof: a
statement naming this platform, its credit code, its signatory and the Ed25519 key it wants bound, signed by
its identity credential (with the local provider, an enterprise certificate of the configured CA; a city plugs
in its own provider) and by that key. The platform stores the public key only. From then on every request
under `/v1/enterprise/` is signed with that key:
`Authorization: XYD-Enterprise credit_code=<code>,key_id=<16 hex>,timestamp=<unix s>,nonce=<32 hex>,signature=<base64>`
and `XYD-Content-SHA256: <hex SHA-256 of the body>`. The Ed25519 signature covers
`"xyd/enterprise/http-request/v1" || 0x00 ||` the RFC 8785 JSON of `{method, path, query, content_sha256,
credit_code, key_id, timestamp, nonce}`. It is checked before the body is read (same failed-authentication
limits, per address and per credit code and key); a timestamp more than 60 s off is `401 STALE_REQUEST`, a
nonce seen before is `401 REPLAYED_REQUEST`, a body that is not the signed one `401 BODY_DIGEST_MISMATCH`.
The `xyd enterprise` CLI creates the key on the enterprise's side and signs for it. A lost key is replaced
through `POST /v1/enterprise-accounts/recovery` (a fresh identity proof; earlier keys are revoked from a stated
time); a key is rotated with `POST /v1/enterprise/keys/rotation`, signed by the current key.

## Consent
Without the enterprise's authorisation no institution receives its non-public detail. A bank asks
(`POST /v1/consent-requests`: enterprise, data items from `GET /v1/consent-catalogue`, purpose, mode, validity, number
of uses, loan application reference); the enterprise sees the exact terms (`GET /v1/enterprise/consent-requests`),
approves by signing them with its own key on its side (the platform verifies the signature, it never makes
one), declines, and later pauses, resumes or revokes with signed instructions; it lists every use made under
each consent with its audit receipt. The bank follows each change by polling `GET /v1/consent-requests/{id}`
or through its webhook (event `consent.changed`). Refusals name their reason: `TAMPERED_TERMS`,
`NOT_THE_SUBJECT`, `KEY_NOT_VALID`, `STALE_SIGNATURE`, `BAD_SIGNATURE`, `WRONG_INSTRUCTION`,
`REPLAYED_INSTRUCTION`, `REQUEST_NOT_PENDING`, `ILLEGAL_TRANSITION`.

## Verification (核验)
Under an ACTIVE consent, a bank registers its keys once (`PUT /v1/verification-keys`: a binding signed with its
certificate from the federation CA) and sends checks it signed itself (`POST /v1/verifications`). The platform
attaches the enterprise-signed artefact and relays each to the source node it names; the answer comes back
signed by the node and sealed to the bank's own key (the platform relays ciphertext it cannot read), with the
audit receipts of the node's leaves. Refusals carry the node's public code (`PAUSED`, `REVOKED`, `EXPIRED`,
`WRONG_PURPOSE`, `SCOPE_EXCEEDED`, `BUDGET_EXHAUSTED`, `REPLAYED_NONCE`, `NOT_AUTHORISED`, ...).
`cli/bank_http.py` and `xyd bank verify` open and check the answers.

## Limits
Heads, body sizes and failed authentications are enforced before the server reads a request's body. The
numbers are the defaults of the platform's `[api]` settings; rate and quota are set per institution.

| what | limit | answer |
|---|---|---|
| request line and headers | 32 KiB (`max_request_head_bytes`) | `431 REQUEST_HEAD_TOO_LARGE`, connection closed |
| time to send the request line and headers | 10 s from their first byte, or from the connection (`request_head_timeout_s`) | `408 REQUEST_TIMEOUT`, connection closed |
| request body, every route | 64 KiB (`max_body_bytes`) | `413 PAYLOAD_TOO_LARGE` |
| request body, `POST /v1/scores/batch` | 1 MiB (`max_batch_body_bytes`; 10,000 codes are about 220 KB) | `413 PAYLOAD_TOO_LARGE` |
| failed authentications per client address | 20, refilled at 12 per minute (`[api.failed_auth]`) | `429 AUTH_RATE_LIMITED` + `Retry-After` |
| failed authentications per key id | 10, refilled at 6 per minute | `429 AUTH_RATE_LIMITED` + `Retry-After` |
| requests per institution | token bucket, 20/s, burst 40 (per institution) | `429 RATE_LIMITED` + `Retry-After` |
| enterprises looked up per institution and UTC day | 100,000 (per institution) | `429 QUOTA_EXHAUSTED` + `Retry-After` |
| batch size | 10,000 credit codes | `422` |

A body whose `Content-Length` passes the limit is refused before any of it is read; a body sent without a
length is cut off when it passes the limit. Once an address or a key id has used up its failed
authentications, further attempts are answered `429` before any key is checked, until the allowance
refills; a key held back this way still works from an address it authenticated from within the last day
(from a new address it waits like anyone else). IPv6 clients are counted per /64. The client address is
the connection's, unless the platform names its reverse proxies (`trusted_proxies`), whose
`X-Forwarded-For` it then reads.

## Request ids, readiness and metrics
Every answer carries an `x-request-id` header: the one the request sent if it is 1 to 64 characters of
letters, digits, `.`, `_` and `-`, else a fresh random id (a malformed one is not repeated). The id is on every
log line the platform and the source nodes write for the request. `GET /v1/ready` (no key) answers 200 when
the API can serve, 503 `NOT_READY` when its database does not answer; `GET /v1/admin/metrics` (admin role)
serves the process's Prometheus metrics.

## Agreements, limits and quotas
Batch scoring, public reports and subscriptions need a data-security agreement on record whose scope
(`BULK_SCORING`, `PUBLIC_REPORTS`, `SUBSCRIPTIONS`) and term cover the request (`403 NO_AGREEMENT`).
Each institution has a request rate limit (token bucket) and a daily quota of enterprises looked up (every
enterprise asked about counts, scored or not; a request that would pass the quota is refused before
scoring); both answer `429` with a `Retry-After` header (`RATE_LIMITED`, `QUOTA_EXHAUSTED`).

## Errors
Every error body is `{"code", "message"}` plus, where relevant, `errors` (per-field problems of a
malformed request, `422 INVALID_REQUEST`), `failed_sources`, `use_id` or `retry_after_s`. Nothing submitted
is ever repeated: not a value, not a character of a credit code, not the name of a field the API does not
declare (shown as `*`), not a webhook URL.

## Scoring and the partial-failure policy
`POST /v1/scores` and `POST /v1/scores/batch` score with any published joint model (SecureBoost, scorecard,
vertical logistic regression on raw or WOE features): the one the request names in `model_id`, else the
platform's default for the purpose (`[api.models]`), else the latest published. They return the probability
of default, score, grade, reason codes (data categories, never values), `reasons` (SecureBoost and vertical
LR: the data items behind the score, each with its public catalogue description where the source unit's
approval lets its items be named, and the direction it moved the risk, raising first; a missing source
flagged), model id and version, a use id and the use's audit leaf receipt. A purpose may have a challenger
(`[api.models.challengers]`): when the purpose's own model answered, the challenger scores the same
enterprises in the shadow, after the answer; its scores never reach the bank and are compared with the
champion's in `GET /v1/models/{model_id}/challenger-report` (compliance, admin).
Purpose and loan application reference are required and recorded. If a source node is dead or misses
its deadline, the default policy `FAIL_ENTERPRISE` fails the affected enterprises (single: `503
SOURCE_UNAVAILABLE` / `504 DEADLINE_EXCEEDED`; batch: those items are `FAILED`, the others are served);
the platform may instead be configured, per purpose (`[api.availability]`: `refuse`, `degrade`, or
`degrade_below` an importance share), to score without the missing sources (a SecureBoost model sends their
splits down their learned default direction; vertical LR and scorecards put each missing source's
contribution at its training mean), in which case such scores carry `degraded: true`, `missing_sources` and
`missing_importance` (their share of the model's importance: split gain, or the spread of each party's
contribution over the training rows). No degraded score is ever served silently.

## What a bank learns from an answer
A score request that gets a score learns the score; one that does not learns why: `404 UNKNOWN_ENTERPRISE`
means every source node answered and none holds the enterprise, so the answer tells the bank that the
federation does not know it (a score cannot be given without serving a made-up one). `503`/`504` say a
source did not answer and tell nothing about the enterprise. To keep this from being a free, unseen
membership test, every enterprise asked about, answered or not, is a use on record (`kind: UNANSWERED`
with its `failure_code`, its id in the error body as `use_id`) with an audit leaf (`REQUEST_REFUSED`, the
enterprise as a keyed reference), counts against the daily quota, and takes no feedback. A bank whose
look-ups of unknown enterprises within an hour reach 50 and a fifth of its look-ups (`[api.lookup_watch]`)
is listed to compliance (`GET /v1/compliance/lookup-alerts`). A public-information report of an enterprise
the platform does not know is the same as one of an enterprise with nothing published (every category
empty), and each read is recorded. Errors never say more: another institution's object is `404` like a
missing one, and no error repeats what was submitted (see Errors). docs/protocols/bank-api.md has the
whole list of what each party learns.

## The pilot banks' common model
`GET /v1/models` lists the joint model `POST /v1/scores` uses by default and every horizontal model the pilot banks
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
webhook (`PUT /v1/webhook`, bank role only). Webhook POSTs carry `XYD-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, "<t>." + body)>`, `XYD-Delivery-Id` and `XYD-Event`; delivery is at-least-once with
exponential backoff, and a delivery that keeps failing is dead-lettered.

Webhook targets: `https` only; port 443 or 8443 (`webhook_ports`); a host name or address that resolves
only to public unicast addresses (no loopback, link-local such as 169.254.169.254, private, shared
100.64/10, multicast, reserved, documentation or unspecified ranges, nor IPv4-mapped, 6to4 or NAT64 forms
of them; a name with one such address among others is refused); no user name or password. A URL that
breaks a rule is `422 INVALID_WEBHOOK`. The same rules are checked again, with a fresh lookup, before every
delivery, which then connects to the address it checked (a name re-bound to an internal address is
refused, not followed). Redirects are not followed, the response body is not read, an attempt times out
after 5 s. `GET /v1/webhook/deliveries` reports a failed attempt only as a category (`NO_WEBHOOK`,
`ADDRESS_REFUSED`, `TIMEOUT`, `CONNECTION_REFUSED`, `CONNECTION_FAILED`, `TLS_ERROR`, `PROTOCOL_ERROR`,
`HTTP_3XX`, `HTTP_4XX`, `HTTP_5XX`); the detail stays in the platform's log.

## Financing statistics (seed 六)
`GET /v1/statistics/financing` gives the first-loan and renewal service centre's figures (增量、扩面、提质、降价)
computed from the decisions banks report: number and amount of loans, first loans and renewals (`first_loan`
in the decision feedback), credit and secured loans (`secured`), the amount-weighted average rate, the
approval rate (loans / decisions), days from the score look-up to the decision (mean, median), enterprises
served and the first-loan rate among them (enterprises with a first loan / enterprises with a loan); in total
and by district, industry (from the platform's own table; the credit code's division code otherwise), bank
and month (UTC+8); `format=csv` for a spreadsheet. Loans whose feedback left `first_loan` or `secured` out
count as unreported. A bank reads its own figures only.

## The web console
The same platform serves a web console under `/console/` (not part of this JSON API): people log in with
their institution's API key and get the same roles and rules as here, through the same service functions.
Its requests pass the same gate (a session cookie instead of the `Authorization` header, checked before any
body is read; log-in failures count against the same failed-authentication limits); every form carries a
CSRF token; no page loads anything from elsewhere.

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
    {"name": "consent", "description": "The catalogue of data items; banks' consent requests to enterprises."},
    {"name": "verification", "description": "Verification (核验) under a consent: answers sealed to the bank."},
    {"name": "enterprise accounts", "description": "Enterprises sign up and recover through an identity provider."},
    {"name": "enterprise", "description": "The enterprise's own side: account, keys (requests signed by its key)."},
    {"name": "compliance", "description": "Authorisations, uses, overdue feedback, audit log (compliance role)."},
    {"name": "statistics", "description": "Financing statistics of the first-loan and renewal centre."},
    {"name": "catalogue", "description": "The city-wide list of data items and requests to expand it."},
    {"name": "admin", "description": "Onboarding, agreements, limits, periodic jobs (admin role)."},
    {"name": "health", "description": "Liveness and readiness."},
]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    services: PlatformServices | None = app.state.services
    if services is not None:
        await services.shutdown_on_loop()


def create_app(services: PlatformServices | None = None, *, console: bool = True) -> FastAPI:
    """The app (the API, and the web console under `/console` unless `console=False`); `services=None` is
    enough to render the OpenAPI document."""
    # No /docs or /redoc: those pages load their scripts from a public CDN, which deployments cannot reach.
    # The OpenAPI document stays at /openapi.json and docs/API.md is generated from it.
    app = FastAPI(title="xyd platform API", version=API_VERSION, description=DESCRIPTION, openapi_tags=TAGS,
                  lifespan=_lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(RequestGate)
    app.add_middleware(RequestObservation)  # added last, so outermost: every answer has its id and timing
    for module in (scores, models, uses, alerts, reports, catalogue, consent_requests, verifications, declarations,
                   enterprise_accounts, enterprise, compliance, statistics, admin):
        app.include_router(module.router)
    if console:
        from platform_node.console import install_console

        install_console(app)

    @app.get("/v1/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/ready", tags=["health"], summary="Readiness",
             responses={503: {"model": ErrorOut, "description": "Not ready: the API's database does not answer."}})
    def ready() -> dict[str, str]:
        """Ready when the API's database answers (the audit log's head can be read)."""
        services: PlatformServices | None = app.state.services
        try:
            if services is not None:
                services.audit.tree_size()
        except Exception as exc:
            raise ApiError(503, "NOT_READY", "the API is not ready") from exc
        return {"status": "ready"}

    return app
