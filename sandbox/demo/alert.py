"""The risk-monitoring part of `xyd demo`: a monitored loan re-scored under the newer model raises an alert.

In step [6] the bank reviews a handful of loan applications under the SecureBoost model
(`demo_bank.review_applications`). Once the scorecard is published, `run_alert_demo` looks at those applications
again under the new model, grants the loan whose score fell the most, has the enterprise sign a MONITOR
authorisation in the consent registry (gRPC, operator certificate), registers the bank's webhook with a
local receiver, and lets an admin run the monitoring sweep and the webhook delivery over HTTP. The bank
checks the webhook's HMAC signature itself, as any bank would, from the documented header format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.registry_admin import RegistryAdmin
from consent.authorisation import Mode, Purpose
from errors import XydError
from sandbox.consent_world import demo_terms, enterprise_signs
from sandbox.demo.bank import APPLICATION_PREFIX, checked_json, onboard
from sandbox.demo.consent import OPERATOR, credentials
from sandbox.launcher import LocalFederation
from sandbox.processes import ProcessFailed

LENDER = "bank/demo-bank"
_SIGNATURE = re.compile(r"t=(\d{1,12}),v1=([0-9a-f]{64})")
# A receiver accepts a signature made at most this long ago (the platform's documented default tolerance).
SIGNATURE_TOLERANCE_S = 300


def utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookRejected(XydError):
    """A received webhook's `XYD-Signature` is missing, malformed, stale or does not match its body."""


def check_webhook_signature(secret: bytes, header: str | None, body: bytes, *, now: datetime) -> int:
    """The bank's own check of `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`; returns `t`."""
    match = _SIGNATURE.fullmatch(header or "")
    if match is None:
        raise WebhookRejected("missing or malformed XYD-Signature header")
    stamp = int(match.group(1))
    if abs(now.timestamp() - stamp) > SIGNATURE_TOLERANCE_S:
        raise WebhookRejected(f"signature time {stamp} is outside the {SIGNATURE_TOLERANCE_S} s tolerance")
    expected = hmac.new(secret, str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(2)):
        raise WebhookRejected("signature does not match the body")
    return stamp


@dataclass(frozen=True)
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A bank's webhook endpoint on 127.0.0.1 (ephemeral port) that keeps what it receives; a context manager."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(ReceivedWebhook({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep the demo's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhook", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/xyd-alerts"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Candidate:
    use: dict[str, Any]
    rescore: dict[str, Any]

    @property
    def drop(self) -> int:
        return int(self.use["score"]) - int(self.rescore["score"])


def pick_deteriorating(http: httpx.Client, headers: dict[str, str], say: Callable[[str], None]) -> Candidate:
    """Look at the reviewed applications again under the newest model; the one whose score fell most."""
    uses = checked_json(http.get("/v1/uses", headers=headers, params={"limit": 1000}), 200, "GET /v1/uses")["items"]
    pending = [u for u in uses if u["loan_application_ref"].startswith(APPLICATION_PREFIX) and u["decision"] is None
               and u["score"] is not None and not u["degraded"]]
    if not pending:
        raise ProcessFailed("no reviewed applications to choose from (step [6] scores them)")
    candidates = []
    for use in pending:
        rescore = checked_json(http.post("/v1/scores", headers=headers, json={
            "credit_code": use["credit_code"], "purpose": Purpose.PRE_LOAN_REVIEW.value,
            "loan_application_ref": use["loan_application_ref"]}), 200, "POST /v1/scores")
        candidates.append(Candidate(use, rescore))
    # Scores fall into grade bands, so a lower score with another grade is a downgrade: prefer those.
    best = max(candidates, key=lambda c: (c.drop > 0 and c.rescore["grade"] != c.use["grade"], c.drop))
    say(f"      the {len(candidates)} applications under {best.rescore['model_id']}: score changes "
        + ", ".join(f"{-c.drop:+d}" for c in candidates)
        + f"; lending to {best.use['credit_code']} ({best.use['score']} {best.use['grade']} under "
          f"{best.use['model_id']}, {best.rescore['score']} {best.rescore['grade']} now)")
    return best


def sign_monitor_authorisation(federation: LocalFederation, credit_code: str, sources: Sequence[str], *,
                               loan_ref: str, now: datetime) -> str:
    """The enterprise binds its key and signs a MONITOR authorisation for the lender; the portal activates it."""
    with RegistryAdmin(credentials(federation.pki_dir, OPERATOR), federation.platform_address) as admin:
        key = Ed25519PrivateKey.generate()
        admin.bind_enterprise_key(credit_code, key.public_key(), valid_from=now - timedelta(days=1))
        terms = demo_terms(credit_code, grantee=LENDER, providers=tuple(f"source/{s}" for s in sources),
                           categories=tuple(sources), now=now, mode=Mode.MONITOR,
                           purpose=Purpose.POST_LOAN_MONITORING, loan_ref=loan_ref)
        return enterprise_signs(admin, terms, key, now=now).terms.id


def run_alert_demo(federation: LocalFederation, bank_credentials: dict[str, str], sources: Sequence[str], *,
                   out: Callable[[str], None] = print, clock: Callable[[], datetime] = utc_now) -> bool:
    """Grant a loan that the newer model rates worse, monitor it, and deliver the alert; True if all held."""
    ok = True

    def expect(condition: bool, line: str) -> None:
        nonlocal ok
        ok = ok and condition
        out(f"      {line}" + ("" if condition else "   <-- UNEXPECTED"))

    bank = {"Authorization": f"Bearer {bank_credentials['demo_bank_api_key']}"}
    other = {"Authorization": f"Bearer {bank_credentials['other_bank_api_key']}"}
    admin = {"Authorization": f"Bearer {onboard(federation.platform_config, 'demo-ops', 'Platform Operations', 'admin')}"}
    with httpx.Client(base_url=federation.api_url, timeout=30.0) as http, WebhookReceiver() as receiver:
        chosen = pick_deteriorating(http, bank, out)
        use = chosen.use
        checked_json(http.post(f"/v1/uses/{use['use_id']}/feedback", headers=bank, json={
            "type": "decision", "decision": "GRANTED", "amount_cny": 1500000, "annual_rate": 0.041,
            "term_months": 12}), 201, "POST feedback")
        authorisation = sign_monitor_authorisation(federation, use["credit_code"], sources,
                                                   loan_ref=use["loan_application_ref"], now=clock())
        out(f"      loan granted on use {use['use_id']}; the enterprise signs MONITOR authorisation "
            f"{authorisation[:17]}… for {LENDER} in the consent registry")
        hook = checked_json(http.put("/v1/webhook", headers=bank, json={"url": receiver.url}), 200, "PUT /v1/webhook")
        out(f"      bank's webhook registered at {receiver.url}")
        sweep = checked_json(http.post("/v1/admin/monitoring/run", headers=admin), 200, "monitoring run")
        expect(len(sweep["alert_ids"]) >= 1,
               f"admin: POST /v1/admin/monitoring/run -> {sweep['candidates']} active loans, {sweep['rescored']} "
               f"re-scored, {sweep['skipped_unauthorised']} skipped (no MONITOR authorisation), "
               f"{len(sweep['alert_ids'])} alert(s)")
        delivery = checked_json(http.post("/v1/admin/webhooks/deliver", headers=admin), 200, "webhook delivery")
        out(f"      admin: POST /v1/admin/webhooks/deliver -> {delivery['delivered']} delivered, "
            f"{delivery['retried']} to retry, {delivery['dead']} dead-lettered")

        alerts = checked_json(http.get("/v1/alerts", headers=bank), 200, "GET /v1/alerts")["items"]
        mine = [a for a in alerts if a["use_id"] == use["use_id"]]
        for a in mine:
            out(f"      GET /v1/alerts (lender): {a['alert_id']} {a['kind']} on {a['credit_code']} "
                f"{a['loan_application_ref']}: {a['previous_score']} {a['previous_grade']} -> {a['score']} "
                f"{a['grade']} ({a['model_id']} {a['model_version']}), reasons {a['reason_codes']}")
        expect(len(mine) == 1, f"the lender sees {len(mine)} alert(s) on the monitored loan")

        bodies = [r for r in receiver.received if r.headers.get("XYD-Event", "").startswith("alert")]
        signed = 0
        for r in bodies:
            try:
                check_webhook_signature(hook["secret"].encode(), r.headers.get(hook["signature_header"]), r.body,
                                        now=clock())
            except WebhookRejected as exc:
                out(f"      webhook {r.headers.get('XYD-Delivery-Id')}: rejected: {exc}")
                continue
            signed += json.loads(r.body).get("alert_id") in {a["alert_id"] for a in mine}
        expect(signed == len(mine) >= 1,
               f"webhook receiver: {len(receiver.received)} POST(s), {signed} carrying the alert with a valid "
               f"HMAC-SHA256 signature")

        seen = checked_json(http.get("/v1/alerts", headers=other), 200, "GET /v1/alerts")["items"]
        expect(not seen, f"another bank: GET /v1/alerts -> {len(seen)} alert(s)")
        if mine:
            peek = http.get(f"/v1/alerts/{mine[0]['alert_id']}", headers=other)
            expect(peek.status_code == 404, f"another bank reading the alert by id: HTTP {peek.status_code}")
    return ok
