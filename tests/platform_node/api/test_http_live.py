"""Real HTTP against a real uvicorn server: authentication, cross-institution access, quotas, malformed
bodies, unknown credit codes, a source dying during a batch, the monitoring trigger and webhook retries."""

from __future__ import annotations

import json
import logging
import random
from datetime import timedelta

import pytest

from consent.credit_code import generate_credit_code
from platform_node.monitoring.webhooks import SIGNATURE_HEADER, verify_signature
from platform_node.scoring.local_scorecard import UnavailableSource
from tests.platform_node.api.conftest import Live
from tests.platform_node.receiver import WebhookReceiver
from tests.platform_node.world import (
    ADMIN,
    BANK_A,
    BANK_B,
    COMPLIANCE,
    SECRET_TAX_PAID,
    TAX,
    enterprises,
    feature_sources,
    local_scorer,
)


def _score(live: Live, code: str, who: str = BANK_A, ref: str = "LA-1"):
    return live.http.post("/v1/scores", headers=live.as_(who),
                          json={"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": ref})


def _batch(live: Live, codes: list[str], who: str = BANK_A):
    return live.http.post("/v1/scores/batch", headers=live.as_(who),
                          json={"credit_codes": codes, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "PF-1"})


def test_authentication_failures(live: Live) -> None:
    code, token = live.platform.codes[0], live.platform.keys[BANK_A]
    body = {"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"}
    attempts = [
        {},
        {"Authorization": f"Basic {token}"},
        {"Authorization": f"Bearer {token[:-2]}zz"},
        {"Authorization": "Bearer xyd.0000000000000000." + "A" * 43},
        {"Authorization": "Bearer not-a-key"},
    ]
    answers = [live.http.post("/v1/scores", json=body, headers=h) for h in attempts]
    assert {r.status_code for r in answers} == {401}
    assert {r.json()["code"] for r in answers} == {"UNAUTHENTICATED"}
    assert len({r.json()["message"] for r in answers}) == 1  # one public answer for every failure
    assert all(r.headers["WWW-Authenticate"] == "Bearer" for r in answers)

    rotated = live.http.post(f"/v1/admin/institutions/{BANK_A}/rotate-key", headers=live.as_(ADMIN))
    assert rotated.status_code == 200
    assert live.http.post("/v1/scores", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    new = {"Authorization": f"Bearer {rotated.json()['api_key']}"}
    assert live.http.post("/v1/scores", json=body, headers=new).status_code == 200

    assert live.http.post(f"/v1/admin/institutions/{BANK_A}/suspend", headers=live.as_(ADMIN)).status_code == 200
    suspended = live.http.post("/v1/scores", json=body, headers=new)
    assert (suspended.status_code, suspended.json()["code"]) == (403, "INSTITUTION_SUSPENDED")

    wrong_role = live.http.get("/v1/compliance/uses", headers=live.as_(BANK_B))
    assert (wrong_role.status_code, wrong_role.json()["code"]) == (403, "FORBIDDEN_ROLE")
    assert live.http.post("/v1/scores", json=body, headers=live.as_(COMPLIANCE)).status_code == 403
    assert live.http.get("/v1/admin/institutions", headers=live.as_(COMPLIANCE)).status_code == 403


def test_cross_institution_reads_get_404(live: Live) -> None:
    a = _score(live, live.platform.codes[0]).json()["use_id"]
    with WebhookReceiver() as receiver:
        live.http.put("/v1/webhook", headers=live.as_(BANK_A), json={"url": receiver.url})
    sub = live.http.post("/v1/subscriptions", headers=live.as_(BANK_A), json={"district": "330106"}).json()
    missing = live.http.get("/v1/uses/use-k000000000000000", headers=live.as_(BANK_B))
    probes = [
        live.http.get(f"/v1/uses/{a}", headers=live.as_(BANK_B)),
        live.http.post(f"/v1/uses/{a}/feedback", headers=live.as_(BANK_B),
                       json={"type": "decision", "decision": "DECLINED"}),
        live.http.get(f"/v1/uses/{a}/receipt", headers=live.as_(BANK_B)),
        live.http.post(f"/v1/uses/{a}/rescore", headers=live.as_(BANK_B)),
        live.http.delete(f"/v1/subscriptions/{sub['subscription_id']}", headers=live.as_(BANK_B)),
    ]
    assert [p.status_code for p in probes] == [404] * 5
    assert probes[0].json() == missing.json()
    assert live.http.get("/v1/uses", headers=live.as_(BANK_B)).json()["items"] == []
    assert live.http.get("/v1/subscriptions", headers=live.as_(BANK_B)).json()["items"] == []
    assert live.http.get("/v1/webhook/deliveries", headers=live.as_(BANK_B)).json() == []
    assert live.http.get(f"/v1/uses/{a}", headers=live.as_(BANK_A)).json()["use_id"] == a


def test_quota_and_rate_limit_answer_429_with_retry_after(live: Live) -> None:
    admin, clock, codes = live.as_(ADMIN), live.platform.clock, live.platform.codes
    limits = {"rate_per_s": 100, "burst": 100, "daily_quota": 3}
    assert live.http.put(f"/v1/admin/institutions/{BANK_A}/limits", headers=admin, json=limits).status_code == 200
    assert _batch(live, codes[:2]).status_code == 200
    refused = _batch(live, codes[2:4])
    assert (refused.status_code, refused.json()["code"]) == (429, "QUOTA_EXHAUSTED")
    midnight = (clock() + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    assert int(refused.headers["Retry-After"]) == int((midnight - clock()).total_seconds())
    assert _score(live, codes[2]).status_code == 200  # the refused batch counted nothing
    clock.advance(int(refused.headers["Retry-After"]))
    assert _batch(live, codes[2:4]).status_code == 200

    limits = {"rate_per_s": 0.5, "burst": 2, "daily_quota": 1000}
    live.http.put(f"/v1/admin/institutions/{BANK_B}/limits", headers=admin, json=limits)
    statuses = [live.http.get("/v1/alerts", headers=live.as_(BANK_B)) for _ in range(3)]
    assert [s.status_code for s in statuses] == [200, 200, 429]
    assert statuses[2].json()["code"] == "RATE_LIMITED" and statuses[2].headers["Retry-After"] == "2"
    clock.advance(2)
    assert live.http.get("/v1/alerts", headers=live.as_(BANK_B)).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"}, "body.credit_code"),
    ({"credit_code": "CODE", "purpose": "SHOPPING", "loan_application_ref": "LA-1"}, "body.purpose"),
    ({"credit_code": "CODE", "purpose": "PRE_LOAN_REVIEW"}, "body.loan_application_ref"),
    ({"credit_code": "CODE", "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "has space"},
     "body.loan_application_ref"),
    ({"credit_code": "CODE", "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1", "x": 1}, "body.*"),
])
def test_malformed_bodies_get_422_naming_the_field(live: Live, body: dict, field: str) -> None:
    body = {k: (live.platform.codes[0] if v == "CODE" else v) for k, v in body.items()}
    answer = live.http.post("/v1/scores", headers=live.as_(BANK_A), json=body)
    assert answer.status_code == 422 and answer.json()["code"] == "INVALID_REQUEST"
    assert field in [e["field"] for e in answer.json()["errors"]] and field in answer.json()["message"]
    assert "has space" not in answer.text  # submitted values are not echoed


def test_unparseable_and_oversized_requests(live: Live) -> None:
    headers = {**live.as_(BANK_A), "Content-Type": "application/json"}
    broken = live.http.post("/v1/scores", headers=headers, content=b'{"credit_code": ')
    assert broken.status_code == 422 and "JSON" in broken.json()["message"]
    codes = [generate_credit_code(random.Random(i)) for i in range(10_001)]
    too_many = _batch(live, codes)
    assert too_many.status_code == 422 and "body.credit_codes" in too_many.json()["message"]
    feedback = live.http.post("/v1/uses/use-1/feedback", headers=live.as_(BANK_A), json={"type": "refund"})
    assert feedback.status_code == 422
    duplicate = _batch(live, [live.platform.codes[0]] * 2)
    assert (duplicate.status_code, duplicate.json()["code"]) == (422, "DUPLICATE_CREDIT_CODES")


def test_unknown_and_invalid_credit_codes(live: Live) -> None:
    code = live.platform.codes[0]
    wrong_check = code[:17] + ("0" if code[17] != "0" else "1")
    invalid = _score(live, wrong_check)
    assert invalid.status_code == 422 and "check character at position 18" in invalid.json()["message"]
    stranger = generate_credit_code(random.Random(4242))
    unknown = _score(live, stranger)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "UNKNOWN_ENTERPRISE")
    batch = _batch(live, [code, stranger]).json()
    assert [i["status"] for i in batch["items"]] == ["SCORED", "FAILED"]
    assert batch["items"][1]["failure"]["code"] == "UNKNOWN_ENTERPRISE"
    report = live.http.get(f"/v1/reports/{stranger}", params={"purpose": "PRE_LOAN_REVIEW"}, headers=live.as_(BANK_A))
    # Like an enterprise with nothing published: a report read is not a membership test.
    assert report.status_code == 200 and all(not s["items"] for s in report.json()["sections"])
    bad_report = live.http.get(f"/v1/reports/{wrong_check}", params={"purpose": "PRE_LOAN_REVIEW"},
                               headers=live.as_(BANK_A))
    assert bad_report.status_code == 422


def test_source_killed_during_a_batch_fails_only_its_enterprises(live: Live) -> None:
    platform = live.platform
    many = enterprises(1200, seed=31)
    sources = feature_sources(many)
    platform.services.scorer = local_scorer(sources).with_sources(
        [UnavailableSource(sources[TAX], answers_before_death=1)])
    answer = _batch(live, many)
    assert answer.status_code == 200
    body = answer.json()
    scored = [i for i in body["items"] if i["status"] == "SCORED"]
    failed = [i for i in body["items"] if i["status"] == "FAILED"]
    assert [i["credit_code"] for i in scored] == many[:500]  # the chunk that arrived before the node died
    assert len(failed) == len(many) - 500
    assert {(i["failure"]["code"], tuple(i["failure"]["failed_sources"])) for i in failed} == {
        ("SOURCE_UNAVAILABLE", (TAX,))}
    # Every enterprise asked about is a use with a leaf, answered or not.
    assert body["scored"] == 500 and body["failed"] == 700 and body["audit_tree_size"] == 1200
    assert all(i["use_id"] for i in body["items"])
    single = _score(live, many[-1])
    assert (single.status_code, single.json()["failed_sources"]) == (503, [TAX])
    kinds: dict[str, int] = {}
    page = live.http.get("/v1/uses", params={"limit": 1000}, headers=live.as_(BANK_A)).json()
    while True:
        for use in page["items"]:
            kinds[use["kind"]] = kinds.get(use["kind"], 0) + 1
        if page["next_after"] is None:
            break
        page = live.http.get("/v1/uses", params={"limit": 1000, "after": page["next_after"]},
                             headers=live.as_(BANK_A)).json()
    assert kinds == {"SCORE": 500, "UNANSWERED": 701}  # the batch's 700 failures and the single one


def test_monitoring_trigger_pushes_a_signed_alert_with_retries(live: Live) -> None:
    platform, http = live.platform, live.http
    code = platform.codes[3]
    with WebhookReceiver(failures=1) as receiver:
        hook = http.put("/v1/webhook", headers=live.as_(BANK_A), json={"url": receiver.url}).json()
        use_id = _score(live, code).json()["use_id"]
        not_granted = http.post(f"/v1/uses/{use_id}/rescore", headers=live.as_(BANK_A))
        assert (not_granted.status_code, not_granted.json()["code"]) == (409, "NOT_MONITORABLE")
        grant = {"type": "decision", "decision": "GRANTED", "amount_cny": "800000.00", "annual_rate": "0.041",
                 "term_months": 24}
        assert http.post(f"/v1/uses/{use_id}/feedback", headers=live.as_(BANK_A), json=grant).status_code == 201
        unauthorised = http.post(f"/v1/uses/{use_id}/rescore", headers=live.as_(BANK_A))
        assert (unauthorised.status_code, unauthorised.json()["code"]) == (403, "NOT_AUTHORISED")
        platform.authorise_monitoring(code, BANK_A)
        assert http.post("/v1/admin/monitoring/run", headers=live.as_(ADMIN)).json()["alert_ids"] == []
        platform.sources[TAX].update(code, tax_paid=500.0, tax_arrears=1.0)
        platform.clock.advance(86_400)
        sweep = http.post("/v1/admin/monitoring/run", headers=live.as_(ADMIN)).json()
        [alert_id] = sweep["alert_ids"]
        deliver = "/v1/admin/webhooks/deliver"
        assert http.post(deliver, headers=live.as_(ADMIN)).json() == {"delivered": 0, "retried": 1, "dead": 0}
        platform.clock.advance(10)
        assert http.post(deliver, headers=live.as_(ADMIN)).json() == {"delivered": 1, "retried": 0, "dead": 0}
        [(headers, body)] = receiver.delivered()
    verify_signature(hook["secret"].encode(), headers[SIGNATURE_HEADER], body, now=platform.clock())
    pushed = json.loads(body)
    alerts = http.get("/v1/alerts", headers=live.as_(BANK_A)).json()["items"]
    assert [a["alert_id"] for a in alerts] == [alert_id] == [pushed["alert_id"]]
    assert pushed["use_id"] == use_id and pushed["score"] < pushed["previous_score"]
    assert http.get("/v1/alerts", headers=live.as_(BANK_B)).json()["items"] == []
    assert http.get(f"/v1/alerts/{alert_id}", headers=live.as_(BANK_B)).status_code == 404


def test_no_raw_value_in_responses_or_log_lines(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    code = live.platform.codes[0]  # its tax_paid is SECRET_TAX_PAID
    raw = [f"{SECRET_TAX_PAID}", f"{int(SECRET_TAX_PAID)}", "1,234,567"]
    with caplog.at_level(logging.DEBUG):
        texts = [_score(live, code).text, _batch(live, live.platform.codes[:5]).text]
        use_id = json.loads(texts[0])["use_id"]
        texts.append(live.http.get(f"/v1/uses/{use_id}", headers=live.as_(BANK_A)).text)
        texts.append(live.http.get("/v1/compliance/uses", headers=live.as_(COMPLIANCE)).text)
        texts.append(live.http.get("/v1/compliance/audit/leaves", headers=live.as_(COMPLIANCE)).text)
    logged = [json.dumps({**vars(r), "msg": r.getMessage()}, default=str) for r in caplog.records]
    assert any("score served" in line for line in logged)
    for text in texts + logged:
        assert not any(value in text for value in raw)
    assert all(code not in line for line in logged)  # log lines name uses, not enterprises
