"""Flows through the app in-process (TestClient): compliance views and audit proofs, receipts that verify,
the overdue-feedback policy through injected settings, agreements, reports, subscriptions, administration."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consent.audit import EventKind, verify_receipt
from consent.audit.receipts import InclusionReceipt
from consent.merkle import leaf_hash, verify_consistency, verify_inclusion
from platform_node.api.app import create_app
from platform_node.api.settings import ApiSettings
from platform_node.uses.deadlines import OverdueAction, OverduePolicy
from tests.platform_node.world import (
    ADMIN,
    BANK_A,
    BANK_B,
    COMPLIANCE,
    Platform,
    build_platform,
    public_record,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Platform, TestClient]]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    platform = build_platform(tmp_path, enterprise_count=10, database_url=url)
    app = create_app(platform.services)
    with TestClient(app) as client:
        yield platform, client
    platform.services.close()


def _score(client: TestClient, platform: Platform, code: str, who: str = BANK_A) -> dict:
    answer = client.post("/v1/scores", headers=platform.headers(who),
                         json={"credit_code": code, "purpose": "LOAN_APPROVAL", "loan_application_ref": "LA-3"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_receipt_verifies_against_the_signed_checkpoint(world) -> None:
    platform, client = world
    served = _score(client, platform, platform.codes[0])
    pending = client.get(f"/v1/uses/{served['use_id']}/receipt", headers=platform.headers(BANK_A))
    assert (pending.status_code, pending.json()["code"]) == (409, "NOT_YET_CHECKPOINTED")
    assert client.post("/v1/admin/audit/checkpoints", headers=platform.headers(ADMIN)).status_code == 201
    body = client.get(f"/v1/uses/{served['use_id']}/receipt", headers=platform.headers(BANK_A)).json()
    receipt = InclusionReceipt(base64.b64decode(body["leaf"]), body["index"],
                               tuple(base64.b64decode(p) for p in body["proof"]), body["checkpoint"])
    event, _ = verify_receipt(receipt, platform.services.log_verifier)
    assert (event.kind, event.use_id, event.institution) == (EventKind.SCORE_SERVED, served["use_id"], BANK_A)
    assert base64.b64decode(served["audit"]["leaf"]) == receipt.leaf


def test_compliance_views_are_audited_and_proofs_verify(world) -> None:
    platform, client = world
    officer = platform.headers(COMPLIANCE)
    a = _score(client, platform, platform.codes[0])
    _score(client, platform, platform.codes[1], who=BANK_B)
    first = client.post("/v1/admin/audit/checkpoints", headers=platform.headers(ADMIN)).json()
    uses = client.get("/v1/compliance/uses", headers=officer).json()
    assert set(uses["institution"].values()) == {BANK_A, BANK_B}
    export = platform.services.audit.leaf(uses["export_leaf_index"]).event
    assert (export.kind, export.actor, export.reason_code) == (EventKind.AUDIT_EXPORT, COMPLIANCE, "EXPORT_USES")
    platform.authorise_monitoring(platform.codes[0], BANK_A)
    auths = client.get("/v1/compliance/authorisations", headers=officer, params={"grantee": BANK_A}).json()
    assert [x["mode"] for x in auths["items"]] == ["MONITOR"] and auths["items"][0]["status"] == "ACTIVE"
    second = client.post("/v1/admin/audit/checkpoints", headers=platform.headers(ADMIN)).json()
    listed = client.get("/v1/compliance/audit/checkpoints", headers=officer).json()
    assert [c["tree_size"] for c in listed["items"]] == [first["tree_size"], second["tree_size"]]
    assert listed["log_public_key"].startswith("xyd.test/audit+")
    proof = client.get("/v1/compliance/audit/proofs/inclusion", headers=officer,
                       params={"index": a["audit"]["leaf_index"], "tree_size": second["tree_size"]}).json()
    verify_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["index"], proof["tree_size"],
                     [bytes.fromhex(p) for p in proof["proof"]], bytes.fromhex(second["root"]))
    consistency = client.get("/v1/compliance/audit/proofs/consistency", headers=officer,
                             params={"first": first["tree_size"], "second": second["tree_size"]}).json()
    verify_consistency(first["tree_size"], second["tree_size"], bytes.fromhex(first["root"]),
                       bytes.fromhex(second["root"]), [bytes.fromhex(p) for p in consistency["proof"]])
    leaves = client.get("/v1/compliance/audit/leaves", headers=officer, params={"kind": "score_served"}).json()
    assert {leaf["event"]["use_id"] for leaf in leaves["items"]} >= {a["use_id"]}
    for leaf in leaves["items"]:
        assert leaf["leaf_hash"] == leaf_hash(platform.services.audit.leaf(leaf["index"]).leaf).hex()
    bad = client.get("/v1/compliance/audit/proofs/inclusion", headers=officer, params={"index": 5, "tree_size": 3})
    assert bad.status_code == 422


def test_overdue_policy_from_injected_settings(world) -> None:
    platform, client = world
    for code in platform.codes[:2]:
        _score(client, platform, code)
    platform.clock.advance(timedelta(days=31).total_seconds())
    overdue = client.get("/v1/compliance/overdue", headers=platform.headers(COMPLIANCE)).json()["institutions"]
    assert [(o["institution_id"], o["overdue"]) for o in overdue] == [(BANK_A, 2)]
    own = client.get("/v1/uses/overdue", headers=platform.headers(BANK_A)).json()["items"]
    assert len(own) == 2 and all(u["overdue"] for u in own)
    base: ApiSettings = platform.services.settings
    platform.services.settings = dataclasses.replace(base, overdue=OverduePolicy(OverdueAction.BLOCK, max_overdue=1))
    blocked = client.post("/v1/scores", headers=platform.headers(BANK_A),
                          json={"credit_code": platform.codes[3], "purpose": "LOAN_APPROVAL",
                                "loan_application_ref": "LA-4"})
    assert (blocked.status_code, blocked.json()["code"]) == (403, "FEEDBACK_OVERDUE")
    _score(client, platform, platform.codes[3], who=BANK_B)  # a bank without overdue uses is not affected
    platform.services.settings = dataclasses.replace(
        base, overdue=OverduePolicy(OverdueAction.THROTTLE, max_overdue=1, throttled_rate_per_s=0.01))
    _score(client, platform, platform.codes[3])
    throttled = client.post("/v1/scores", headers=platform.headers(BANK_A),
                            json={"credit_code": platform.codes[4], "purpose": "LOAN_APPROVAL",
                                  "loan_application_ref": "LA-5"})
    assert (throttled.status_code, throttled.json()["code"]) == (429, "RATE_LIMITED")
    assert int(throttled.headers["Retry-After"]) == 100
    platform.services.settings = base


def test_bulk_services_need_an_agreement(world) -> None:
    platform, client = world
    admin = platform.headers(ADMIN)
    onboarded = client.post("/v1/admin/institutions", headers=admin,
                            json={"kind": "guarantor", "slug": "delta", "name": "Delta Guarantee", "role": "bank"})
    assert onboarded.status_code == 201
    headers = {"Authorization": f"Bearer {onboarded.json()['api_key']}"}
    code = platform.codes[0]
    batch = client.post("/v1/scores/batch", headers=headers,
                        json={"credit_codes": [code], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "B-1"})
    report = client.get(f"/v1/reports/{code}", headers=headers, params={"purpose": "PRE_LOAN_REVIEW"})
    sub = client.post("/v1/subscriptions", headers=headers, json={"industry": "C13"})
    assert [(r.status_code, r.json()["code"]) for r in (batch, report, sub)] == [(403, "NO_AGREEMENT")] * 3
    agreement = client.post("/v1/admin/institutions/guarantor/delta/agreements", headers=admin, json={
        "scopes": ["BULK_SCORING", "PUBLIC_REPORTS"], "reference": "DSA-2025-17",
        "not_before": "2025-01-01T00:00:00Z", "not_after": "2026-01-01T00:00:00Z"})
    assert agreement.status_code == 201
    assert client.post("/v1/scores/batch", headers=headers, json={
        "credit_codes": [code], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "B-1"}).status_code == 200
    platform.records.publish(public_record("pen-1", code, "administrative_penalty"))
    report = client.get(f"/v1/reports/{code}", headers=headers, params={"purpose": "PRE_LOAN_REVIEW"}).json()
    penalties = next(s for s in report["sections"] if s["category"] == "administrative_penalty")
    assert [i["item_id"] for i in penalties["items"]] == ["pen-1"]
    assert client.post("/v1/subscriptions", headers=headers, json={"industry": "C13"}).status_code == 403


def test_subscription_lifecycle_and_push(world) -> None:
    platform, client = world
    bank = platform.headers(BANK_A)
    created = client.post("/v1/subscriptions", headers=bank, json={"district": "330106", "industry": "C13"})
    assert created.status_code == 201
    assert client.post("/v1/subscriptions", headers=bank, json={"district": "33"}).status_code == 422
    platform.records.publish(public_record("r1", platform.codes[0], "registration"))
    pushed = client.post("/v1/admin/subscriptions/push", headers=platform.headers(ADMIN)).json()
    assert (pushed["batches"], pushed["items"]) == (1, 1)
    deliveries = client.get("/v1/webhook/deliveries", headers=bank).json()
    assert [d["event_type"] for d in deliveries] == ["public_items.batch"]
    sub_id = created.json()["subscription_id"]
    assert client.delete(f"/v1/subscriptions/{sub_id}", headers=bank).json()["active"] is False


def test_administration_and_label_export(world) -> None:
    platform, client = world
    admin = platform.headers(ADMIN)
    ids = {i["institution_id"] for i in client.get("/v1/admin/institutions", headers=admin).json()}
    assert {BANK_A, BANK_B, COMPLIANCE, ADMIN} <= ids
    assert client.post(f"/v1/admin/institutions/{ADMIN}/suspend", headers=admin).status_code == 409
    assert client.post("/v1/admin/institutions/bank/nobody/suspend", headers=admin).status_code == 404
    dup = client.post("/v1/admin/institutions", headers=admin,
                      json={"kind": "bank", "slug": "alpha", "name": "Again", "role": "bank"})
    assert (dup.status_code, dup.json()["code"]) == (409, "DUPLICATE")
    use_id = _score(client, platform, platform.codes[0])["use_id"]
    bank = platform.headers(BANK_A)
    client.post(f"/v1/uses/{use_id}/feedback", headers=bank, json={
        "type": "decision", "decision": "GRANTED", "amount_cny": "120000", "annual_rate": "0.05", "term_months": 6})
    conflict = client.post(f"/v1/uses/{use_id}/feedback", headers=bank, json={"type": "decision", "decision": "DECLINED"})
    assert (conflict.status_code, conflict.json()["code"]) == (409, "FEEDBACK_CONFLICT")
    bad = client.post(f"/v1/uses/{use_id}/feedback", headers=bank, json={"type": "decision", "decision": "GRANTED"})
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_FEEDBACK")
    client.post(f"/v1/uses/{use_id}/feedback", headers=bank, json={"type": "repayment", "outcome": "DEFAULT"})
    assert client.post("/v1/admin/labels/export", headers=admin).json() == {"exported": 1, "positives": 1,
                                                                           "negatives": 0}
    assert client.get("/v1/health").json() == {"status": "ok"}
