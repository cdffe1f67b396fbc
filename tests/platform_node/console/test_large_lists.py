"""List pages stay bounded with 100,000 uses on record: filtered and paged in SQL by a keyset cursor, so a
page costs the same few queries on the first page and the hundredth (counted, not timed)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, insert

from consent.authorisation.schema import to_epoch
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.uses.schema import uses
from tests.platform_node.world import BANK_A, BANK_B, COMPLIANCE, T0, build_platform

USES = 100_000


@contextmanager
def counted(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _fill(engine, codes: list[str]) -> None:
    start = to_epoch(T0 - timedelta(days=100))
    rows = []
    for i in range(USES):
        created = start + i * 86  # 100 days of uses
        rows.append({
            "id": f"use-a{i:015d}", "kind": "SCORE", "institution_id": BANK_A if i % 10 else BANK_B,
            "credit_code": codes[i % len(codes)], "purpose": "PRE_LOAN_REVIEW" if i % 3 else "LOAN_APPROVAL",
            "loan_application_ref": f"LA-{i}", "model_id": "scorecard-test", "model_version": "3",
            "probability_of_default": 0.02, "score": 600 + i % 200, "grade": "A", "reason_codes": "tax",
            "degraded": False, "missing_sources": "", "result_nonce": os.urandom(16), "created_at": created,
            "feedback_due_at": created + 30 * 86_400, "decision": "GRANTED" if i % 4 == 0 else None,
            "audit_index": i,
        })
    with engine.begin() as conn:
        for chunk in range(0, USES, 20_000):
            conn.execute(insert(uses), rows[chunk:chunk + 20_000])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    platform = build_platform(tmp_path_factory.mktemp("large"))
    _fill(platform.services.engine, platform.codes)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield platform, url
    finally:
        server.stop()
        platform.services.close()


@contextmanager
def _client(url: str, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/console/login").text).group(1)
        assert http.post("/console/login", data={"csrf": token, "api_key": key}).status_code == 303
        yield http


def _rows(html: str) -> list[str]:
    return re.findall(r'<td><a href="/console/(?:bank/uses/|compliance/verify\?use_id=)(use-[0-9a-z]+)">', html)


def test_a_banks_filtered_pages_cost_a_fixed_few_queries(site) -> None:
    platform, url = site
    engine = platform.services.engine
    with _client(url, platform.keys[BANK_A]) as http:
        costs, seen, path = [], [], "/console/bank/uses?state=overdue&purpose=PRE_LOAN_REVIEW"
        for _ in range(3):
            with counted(engine) as statements:
                page = http.get(path)
            assert page.status_code == 200
            costs.append(len(statements))
            listed = _rows(page.text)
            assert len(listed) == 50 and not set(listed) & set(seen)
            seen += listed
            path = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")
        assert max(costs) <= 3, costs  # the session, the key in force, the page
        numbers = [int(u[5:]) for u in seen]
        assert numbers == sorted(numbers, reverse=True)  # newest first, no gap between pages
        assert all(n % 10 and n % 3 and n % 4 for n in numbers)  # bank A's, the purpose, no decision


def test_the_officers_filtered_page_is_bounded_too(site) -> None:
    platform, url = site
    engine = platform.services.engine
    with _client(url, platform.keys[COMPLIANCE]) as http:
        code = platform.codes[10]
        with counted(engine) as statements:
            page = http.get(f"/console/compliance/uses?credit_code={code}&institution_id={BANK_B}")
        assert page.status_code == 200
        listed = _rows(page.text)
        assert listed and all(int(u[5:]) % 10 == 0 and int(u[5:]) % len(platform.codes) == 10 for u in listed)
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) <= 6, selects  # session, key, page, and the export leaf's log reads
        assert len(statements) <= 14, statements
