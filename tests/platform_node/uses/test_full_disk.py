"""A full disk under the audit log, over real HTTP: scoring requests whose uses cannot be written are refused
with 503 (nothing served), no use lacks its leaf and no leaf its use, the log still verifies, and serving
resumes once there is room again.

The disk is filled with SQLite's `max_page_count` pragma set to the database's current size: SQLite then
fails the growth with SQLITE_FULL, "database or disk is full", the very error a full file system gives,
deterministically and without root (a loop-mounted file system needs mount rights; `python -m benchmarks
resilience` fills a real tmpfs under a platform process when it has them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, event

from consent.audit.integrity import verify_log_rows
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.uses.pairing import Unpaired, unpaired
from tests.platform_node.world import BANK_A, Platform, build_platform


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Platform, httpx.Client]]:
    platform = build_platform(tmp_path, enterprise_count=120)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        with httpx.Client(base_url=url, timeout=10.0) as http:
            yield platform, http
    finally:
        server.stop()
        platform.services.close()


def _fill_disk(engine: Engine) -> object:
    """From now on the database may not grow: every connection gets max_page_count = its current size."""
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()

    def limit(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", limit)
    engine.dispose()  # pooled connections were opened without the limit
    return limit


def _make_room(engine: Engine, limit: object) -> None:
    event.remove(engine, "connect", limit)
    engine.dispose()


def _score(platform: Platform, http: httpx.Client, code: str) -> httpx.Response:
    return http.post("/v1/scores", headers=platform.headers(BANK_A),
                     json={"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"})


def test_a_full_disk_refuses_requests_and_leaves_every_use_with_its_leaf(live) -> None:
    platform, http = live
    engine, codes = platform.services.engine, platform.codes
    assert all(_score(platform, http, c).status_code == 200 for c in codes[:5])
    limit = _fill_disk(engine)
    answers = [_score(platform, http, c) for c in codes[5:45]]
    refused = [a for a in answers if a.status_code != 200]
    served = len(answers) - len(refused)
    assert refused, "the database never ran out of room"
    assert {(a.status_code, a.json()["code"]) for a in refused} == {(503, "AUDIT_STORE_UNAVAILABLE")}
    assert all("score" not in a.json() and codes[0] not in a.text for a in refused)  # nothing was served
    batch = http.post("/v1/scores/batch", headers=platform.headers(BANK_A),
                      json={"credit_codes": codes[45:55], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "B"})
    assert (batch.status_code, batch.json()["code"]) == (503, "AUDIT_STORE_UNAVAILABLE")
    listed = http.get("/v1/uses", params={"limit": 1000}, headers=platform.headers(BANK_A)).json()["items"]
    assert len(listed) == 5 + served
    assert unpaired(engine) == Unpaired(0, 0)
    assert verify_log_rows(platform.services.audit).size == 5 + served

    _make_room(engine, limit)
    assert _score(platform, http, codes[55]).status_code == 200
    assert unpaired(engine) == Unpaired(0, 0)
    assert verify_log_rows(platform.services.audit).size == 6 + served
