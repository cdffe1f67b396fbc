"""The financing statistics reconciled with a hand computation (pandas) on synthetic feedback, through the real
API and the console's CSV; the pure module's invariants as properties; the filters and the roles."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_node.api.app import create_app
from platform_node.api.routers.scores import score_and_record
from platform_node.api.server import ApiServer
from platform_node.statistics import (
    FIGURE_FIELDS,
    DecisionRow,
    Dimension,
    TableDirectory,
    district_of,
    figures,
    financing_report,
)
from platform_node.uses.feedback import Decision, DecisionFeedback
from tests.platform_node.world import ADMIN, BANK_A, BANK_B, COMPLIANCE, T0, Platform, build_platform

CST = timedelta(hours=8)
INDUSTRIES = ("manufacturing", "wholesale_retail", "information_technology")


@dataclass
class Fed:
    """What the test itself posted: the hand computation's only input (never read back from the database)."""

    use_id: str
    bank: str
    code: str
    requested: datetime
    decided: datetime
    granted: bool
    amount_fen: int | None
    rate: Decimal | None
    first_loan: bool | None
    secured: bool | None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, str, list[Fed], dict]]:
    tmp = tmp_path_factory.mktemp("financing")
    platform = build_platform(tmp, enterprise_count=80)
    rng = random.Random(19)
    places = {code: (district_of(code), INDUSTRIES[i % 3]) for i, code in enumerate(platform.codes[:70])}
    platform.services.directory = TableDirectory(places)  # the last 10 enterprises are placed by code only
    services, fed = platform.services, []
    for i, code in enumerate(platform.codes):
        bank = BANK_A if i % 3 else BANK_B
        requested = T0 + timedelta(days=rng.randrange(0, 80), hours=rng.randrange(0, 24))
        institution = services.institutions.get(bank)
        [recorded] = score_and_record(services, institution, [code], "PRE_LOAN_REVIEW", f"LA-F-{i}", now=requested)
        if i % 11 == 0:
            continue  # no decision reported yet
        decided = requested + timedelta(hours=rng.randrange(1, 24 * 20))
        granted = rng.random() < 0.75
        first = rng.choice([True, False, None])
        if granted:
            amount = Decimal(rng.randrange(10_000, 5_000_000)) + Decimal(rng.randrange(0, 100)) / 100
            rate = Decimal(rng.randrange(250, 600)) / 10_000
            secured = rng.choice([True, False, None])
            feedback = DecisionFeedback(Decision.GRANTED, amount, rate, rng.choice([6, 12, 24]), first_loan=first,
                                        secured=secured)
        else:
            amount = rate = secured = None
            feedback = DecisionFeedback(Decision.DECLINED, first_loan=first)
        services.feedback.record(recorded.use_id, feedback, institution_id=bank, now=decided)
        fed.append(Fed(recorded.use_id, bank, code, requested, decided, granted,
                       None if amount is None else int(amount * 100), rate, first, secured))
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield platform, url, fed, places
    finally:
        server.stop()
        platform.services.close()


def _frame(fed: list[Fed], places: dict) -> pd.DataFrame:
    rows = []
    for f in fed:
        district, industry = places.get(f.code, (f.code[2:8], "unknown"))
        rows.append({"bank": f.bank, "code": f.code, "district": district, "industry": industry,
                     "month": (f.decided + CST).strftime("%Y-%m"), "granted": f.granted,
                     "fen": f.amount_fen or 0, "rate": float(f.rate) if f.rate is not None else None,
                     "first": f.first_loan, "secured": f.secured,
                     "days": (f.decided - f.requested).total_seconds() / 86_400})
    return pd.DataFrame(rows)


def _by_hand(df: pd.DataFrame) -> dict:
    """The figures as a person would compute them from the posted feedback, with pandas."""
    loans = df[df.granted]
    weighted = loans[loans.fen > 0]

    def fen(mask) -> str:
        return f"{loans[mask].fen.sum() / 100:.2f}"

    served = loans.code.nunique()
    first_served = loans[loans["first"] == True].code.nunique()  # noqa: E712 (a column of True/False/None)
    return {
        "decisions": len(df), "loans": len(loans),
        "approval_rate": round(len(loans) / len(df), 6) if len(df) else None,
        "amount_cny": f"{loans.fen.sum() / 100:.2f}",
        "first_loans": int((loans["first"] == True).sum()), "first_loan_amount_cny": fen(loans["first"] == True),  # noqa: E712
        "renewals": int((loans["first"] == False).sum()), "renewal_amount_cny": fen(loans["first"] == False),  # noqa: E712
        "loan_kind_unreported": int(loans["first"].isna().sum()),
        "credit_loans": int((loans.secured == False).sum()), "credit_amount_cny": fen(loans.secured == False),  # noqa: E712
        "secured_loans": int((loans.secured == True).sum()), "secured_amount_cny": fen(loans.secured == True),  # noqa: E712
        "security_unreported": int(loans.secured.isna().sum()),
        "average_rate": None if weighted.empty else (weighted.rate * weighted.fen).sum() / weighted.fen.sum(),
        "mean_decision_days": round(df.days.mean(), 3) if len(df) else None,
        "median_decision_days": round(df.days.median(), 3) if len(df) else None,
        "enterprises_served": served, "first_loan_enterprises": first_served,
        "first_loan_rate": round(first_served / served, 6) if served else None,
    }


def _same(api: dict, hand: dict) -> None:
    for name, expected in hand.items():
        got = api[name]
        if name == "average_rate":
            assert (got is None) == (expected is None) and (got is None or abs(float(got) - expected) < 1e-6), name
        elif isinstance(expected, float):
            assert got == pytest.approx(expected, abs=1e-3), name
        else:
            assert got == expected, name


def test_the_apis_figures_are_the_hand_computation(world) -> None:
    platform, url, fed, places = world
    df = _frame(fed, places)
    with httpx.Client(base_url=url, headers=platform.headers(COMPLIANCE)) as http:
        body = http.get("/v1/statistics/financing").json()
    _same(body["totals"], _by_hand(df))
    for dimension, column in (("by_district", "district"), ("by_industry", "industry"), ("by_bank", "bank"),
                              ("by_month", "month")):
        groups = {g["key"]: g["figures"] for g in body[dimension]}
        assert set(groups) == set(df[column].unique()), dimension
        for key, part in df.groupby(column):
            _same(groups[key], _by_hand(part))
    assert {g["key"] for g in body["by_industry"]} == {*INDUSTRIES, "unknown"}


def test_filters_a_banks_own_figures_and_the_roles(world) -> None:
    platform, url, fed, places = world
    df = _frame(fed, places)
    since, until = T0 + timedelta(days=20), T0 + timedelta(days=60)
    window = _frame([f for f in fed if since <= f.decided < until], places)
    some_district = df.district.value_counts().index[0]
    with httpx.Client(base_url=url) as http:
        params = {"since": since.isoformat(), "until": until.isoformat()}
        body = http.get("/v1/statistics/financing", params=params, headers=platform.headers(ADMIN)).json()
        _same(body["totals"], _by_hand(window))
        body = http.get("/v1/statistics/financing", params={"district": some_district, "industry": "manufacturing"},
                        headers=platform.headers(ADMIN)).json()
        _same(body["totals"], _by_hand(df[(df.district == some_district) & (df.industry == "manufacturing")]))
        own = http.get("/v1/statistics/financing", headers=platform.headers(BANK_B)).json()
        assert own["institution_id"] == BANK_B and [g["key"] for g in own["by_bank"]] == [BANK_B]
        _same(own["totals"], _by_hand(df[df.bank == BANK_B]))
        refused = http.get("/v1/statistics/financing", params={"institution_id": BANK_A},
                           headers=platform.headers(BANK_B))
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN_SCOPE"
        bad = http.get("/v1/statistics/financing", params={"since": until.isoformat(), "until": since.isoformat()},
                       headers=platform.headers(ADMIN))
        assert bad.status_code == 422 and bad.json()["code"] == "INVALID_PERIOD"
        assert http.get("/v1/statistics/financing").status_code == 401


def test_the_consoles_csv_is_the_apis_csv(world) -> None:
    platform, url, fed, places = world
    with httpx.Client(base_url=url) as http:
        api = http.get("/v1/statistics/financing", params={"format": "csv"}, headers=platform.headers(COMPLIANCE))
        assert api.headers["content-type"].startswith("text/csv")
        form = http.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        http.post("/console/login", data={"csrf": token, "api_key": platform.keys[COMPLIANCE]})
        console = http.get("/console/statistics/financing.csv")
        page = http.get("/console/statistics")
    assert console.text == api.text
    rows = list(csv.reader(io.StringIO(api.text)))
    assert rows[0] == ["dimension", "key", *FIGURE_FIELDS] and rows[1][0] == "all"
    assert {r[0] for r in rows[2:]} == {d.value for d in Dimension}
    total_amount = rows[1][2 + FIGURE_FIELDS.index("amount_cny")]
    assert f"{float(total_amount):,.2f}" in page.text  # the page shows the same total


def _row(granted: bool, fen: int, rate: str, first: bool | None, secured: bool | None, code: str, hours: int,
         bank: str = "bank/a") -> DecisionRow:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return DecisionRow("use-x", bank, code, code[2:8], "unknown", at, at + timedelta(hours=hours), granted,
                       fen if granted else None, Decimal(rate) if granted else None, first,
                       secured if granted else None)


rows_strategy = st.lists(st.builds(
    _row, st.booleans(), st.integers(1, 10**12), st.sampled_from(["0.03", "0.0435", "0.0512"]),
    st.sampled_from([True, False, None]), st.sampled_from([True, False, None]),
    st.sampled_from(["91330105MA1AAAAA01", "91330106MA1BBBBB02", "91330108MA1CCCCC03"]), st.integers(0, 2000),
    st.sampled_from(["bank/a", "bank/b"])), max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows_strategy)
def test_figures_add_up(rows: list[DecisionRow]) -> None:
    total = figures(rows)
    assert total.first_loans + total.renewals + total.loan_kind_unreported == total.loans
    assert total.credit_loans + total.secured_loans + total.security_unreported == total.loans
    assert total.first_loan_amount_cny + total.renewal_amount_cny <= total.amount_cny
    assert total.first_loan_enterprises <= total.enterprises_served <= total.loans
    if total.average_rate is not None:
        assert Decimal("0.03") <= total.average_rate <= Decimal("0.0512")
    report = financing_report(rows)
    for dimension in Dimension:  # every breakdown partitions the decisions and the amount
        groups = report.breakdowns[dimension]
        assert sum(g.figures.decisions for g in groups) == total.decisions
        assert sum(g.figures.amount_cny for g in groups) == total.amount_cny


def test_month_is_china_time() -> None:
    late = _row(True, 100, "0.04", True, False, "91330105MA1AAAAA01", 0)
    at = datetime(2025, 1, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 February in Beijing
    moved = DecisionRow(**{**late.__dict__, "decided_at": at, "requested_at": at})
    assert [g.key for g in financing_report([moved]).breakdowns[Dimension.MONTH]] == ["2025-02"]


def test_directory_from_the_platform_table(tmp_path: Path) -> None:
    frame = pd.DataFrame({"district": ["330106", None], "industry": ["manufacturing", None]},
                         index=["91330106MA1BBBBB02", "91330108MA1CCCCC03"])
    directory = TableDirectory.from_frame(frame)
    assert directory.place("91330106MA1BBBBB02") == ("330106", "manufacturing")
    assert directory.place("91330108MA1CCCCC03") == ("330108", "unknown")
    assert directory.place("91330110MA1DDDDD04") == ("330110", "unknown")
    assert TableDirectory.from_frame(pd.DataFrame({"x": [1]})).place("91330110MA1DDDDD04") == ("330110", "unknown")
