"""`first_loan` and `secured` on the decision feedback: optional, old feedback unchanged, old tables migrated."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from consent.audit import AuditLog
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.uses.errors import InvalidFeedback
from platform_node.uses.feedback import Decision, DecisionFeedback, feedback_digest
from platform_node.uses.records import UseBook
from tests.platform_node.world import BANK_A, build_platform


def test_the_digest_of_feedback_without_the_new_fields_is_what_it_was() -> None:
    nonce = bytes(16)
    old = DecisionFeedback(Decision.GRANTED, Decimal("1000.00"), Decimal("0.04"), 12)
    # The document the release before these fields hashed: leaves already logged still verify.
    document = {"use_id": "use-a000000000000001", "nonce": nonce.hex(), "decision": "GRANTED",
                "amount_cny": "1000.00", "annual_rate": "0.04", "term_months": 12}
    before = hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert feedback_digest("use-a000000000000001", old, nonce) == before
    assert feedback_digest("use-a000000000000001", old, nonce) != feedback_digest(
        "use-a000000000000001", DecisionFeedback(Decision.GRANTED, Decimal("1000.00"), Decimal("0.04"), 12,
                                                 first_loan=True), nonce)


def test_the_fields_are_optional_and_checked() -> None:
    assert DecisionFeedback(Decision.DECLINED, first_loan=False).first_loan is False
    with pytest.raises(InvalidFeedback):
        DecisionFeedback(Decision.DECLINED, secured=True)
    with pytest.raises(InvalidFeedback):
        DecisionFeedback(Decision.GRANTED, Decimal("1"), Decimal("0.04"), 12, first_loan="yes")  # type: ignore[arg-type]


def test_a_table_from_before_gets_the_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:  # the shape of the tables before this release (the columns that matter)
        conn.execute(text("CREATE TABLE platform_uses (id VARCHAR(32) PRIMARY KEY, kind VARCHAR(16), "
                          "failure_code VARCHAR(32))"))
        conn.execute(text("CREATE TABLE platform_feedback_events (seq INTEGER PRIMARY KEY, use_id VARCHAR(32))"))
        conn.execute(text("INSERT INTO platform_uses (id, kind) VALUES ('use-a000000000000001', 'SCORE')"))
    audit = AuditLog(engine)
    audit.create_schema()
    UseBook(engine, audit, subject_ref_key=bytes(32), feedback_deadline=timedelta(days=30)).create_schema()
    columns = {c["name"] for c in inspect(engine).get_columns("platform_uses")}
    assert {"first_loan", "secured", "failure_code"} <= columns
    assert {"first_loan", "secured"} <= {c["name"] for c in inspect(engine).get_columns("platform_feedback_events")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT first_loan, secured FROM platform_uses")).one() == (None, None)


def test_the_api_takes_and_shows_them(tmp_path: Path) -> None:
    platform = build_platform(tmp_path)
    server = ApiServer(create_app(platform.services, console=False))
    url = server.start()
    try:
        with httpx.Client(base_url=url, headers=platform.headers(BANK_A)) as http:
            scored = http.post("/v1/scores", json={"credit_code": platform.codes[0], "purpose": "PRE_LOAN_REVIEW",
                                                   "loan_application_ref": "LA-1"}).json()
            use = scored["use_id"]
            posted = http.post(f"/v1/uses/{use}/feedback", json={
                "type": "decision", "decision": "GRANTED", "amount_cny": "500000.00", "annual_rate": "0.0385",
                "term_months": 12, "first_loan": True, "secured": False})
            assert posted.status_code == 201, posted.text
            shown = http.get(f"/v1/uses/{use}").json()
            assert (shown["first_loan"], shown["secured"]) == (True, False)
            second = http.post("/v1/scores", json={"credit_code": platform.codes[1], "purpose": "PRE_LOAN_REVIEW",
                                                   "loan_application_ref": "LA-2"}).json()["use_id"]
            refused = http.post(f"/v1/uses/{second}/feedback", json={"type": "decision", "decision": "DECLINED",
                                                                      "secured": True})
            assert refused.status_code == 422 and refused.json()["code"] == "INVALID_FEEDBACK"
            old_style = http.post(f"/v1/uses/{second}/feedback", json={"type": "decision", "decision": "DECLINED"})
            assert old_style.status_code == 201
            assert http.get(f"/v1/uses/{second}").json()["first_loan"] is None
    finally:
        server.stop()
        platform.services.close()
