"""The console end to end in a real headless Chromium, against the real app on a real uvicorn server.

A bank scores, reports its decision and downloads a batch; another bank changing the address gets nothing;
a compliance officer verifies a receipt (and sees a tampered one fail), follows a timeline and exports CSV;
every view is saved as a PNG under build/screenshots/. Each browser context refuses any request that leaves
the console, so a page that needed an outside asset fails its test.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from platform_node.api.app import create_app
from platform_node.api.routers.scores import score_and_record
from platform_node.api.server import ApiServer
from platform_node.uses.feedback import Decision, DecisionFeedback
from platform_node.uses.schema import uses
from tests.browser_support import Visit, chromium
from tests.platform_node.world import ADMIN, BANK_A, BANK_B, COMPLIANCE, Platform, build_platform

pytestmark = pytest.mark.browser


@dataclass
class Site:
    platform: Platform
    url: str

    def key(self, institution: str) -> str:
        return self.platform.keys[institution]

    def score(self, bank: str, code: str, *, ref: str = "LA-SEED-1", days_ago: float = 0) -> str:
        """A use recorded through the API's own scoring function (set-up, not what is under test)."""
        services = self.platform.services
        institution = services.institutions.get(bank)
        now = self.platform.clock() - timedelta(days=days_ago)
        return score_and_record(services, institution, [code], "PRE_LOAN_REVIEW", ref, now=now)[0].use_id


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    platform = build_platform(tmp_path_factory.mktemp("console"), enterprise_count=60)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield Site(platform, url)
    finally:
        server.stop()
        platform.services.close()


@pytest.fixture
def visit(browser, site: Site) -> Iterator[Visit]:
    opened = Visit(browser, site.url)
    yield opened
    opened.close()


def _csv(download) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


def test_bank_scores_reports_its_decision_and_downloads_a_batch(visit: Visit, site: Site) -> None:
    page = visit.page
    visit.go("/console/login")
    assert page.locator("h1").inner_text() == "登录"
    visit.shoot("01-login-zh")
    # Keyboard: the key field has the focus, Tab reaches the button, Enter logs in.
    assert page.evaluate("document.activeElement.id") == "api_key"
    page.keyboard.type(site.key(BANK_A))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/bank/score$"))
    page.keyboard.press("Tab")  # on every page the first stop is the skip link to the content
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.url.endswith("/console/bank/score")
    visit.shoot("02-bank-score-form")

    code = site.platform.codes[3]
    page.get_by_label("统一社会信用代码").fill(code)
    page.get_by_label("用途").select_option("LOAN_APPROVAL")
    page.get_by_label("贷款申请编号").fill("LA-WEB-1")
    page.get_by_role("button", name="查询评分").click()
    page.wait_for_selector("#result")
    score = int(page.get_by_test_id("score").inner_text())
    assert 300 <= score <= 900 and page.get_by_test_id("grade").inner_text()
    assert "拉低了评分" in page.locator("#result").inner_text()  # reason codes in words
    visit.shoot("03-bank-score-result")

    page.locator("#result a[href^='/console/bank/uses/']").click()
    use_id = page.url.rsplit("/", 1)[1]
    visit.shoot("04-bank-use-before-feedback")
    page.get_by_label("放贷决定", exact=True).select_option("GRANTED")
    page.get_by_label("金额（元）").fill("800000")
    page.get_by_label("年利率（如 0.0385）").fill("0.0365")
    page.get_by_label("期限（月）").fill("12")
    page.get_by_label("贷款类型").select_option("first")
    page.get_by_label("担保方式").select_option("credit")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("p.ok[role=status]")
    assert "DECISION_GRANTED" in page.locator("p.ok[role=status]").inner_text()
    visit.shoot("05-bank-use-after-feedback")
    stored = site.platform.services.uses.get(use_id, institution_id=BANK_A)
    assert (stored.decision, str(stored.amount_cny), stored.first_loan, stored.secured) == \
        ("GRANTED", "800000", True, False)

    visit.go("/console/bank/uses?state=decided")
    assert use_id in page.locator("table.data").inner_text()
    visit.shoot("06-bank-uses-decided")

    codes = site.platform.codes[10:30]
    upload = ("credit_code\n" + "\n".join(codes) + "\n").encode()
    visit.go("/console/bank/batch")
    visit.shoot("07-bank-batch-form")
    page.get_by_label("CSV 文件").set_input_files(files=[{"name": "codes.csv", "mimeType": "text/csv",
                                                          "buffer": upload}])
    page.get_by_label("贷款申请编号").fill("LA-WEB-BATCH")
    page.get_by_role("button", name="上传并评分").click()
    page.wait_for_url(re.compile(r"/console/bank/batch/run-[0-9a-f]+$"))
    page.wait_for_selector("#batch-run[data-running='0']", timeout=20_000)
    assert "20 / 20" in page.locator("[data-field=counts]").inner_text()
    visit.shoot("08-bank-batch-done")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载结果 CSV").click()
    rows = _csv(download.value)
    assert [r["credit_code"] for r in rows] == codes and {r["status"] for r in rows} == {"SCORED"}

    visit.go("/console/bank/subscriptions")
    page.get_by_label("区县代码（6 位）").fill("330106")
    page.get_by_role("button", name="订阅").click()
    assert "330106" in page.locator("table.data").inner_text()
    visit.shoot("09-bank-subscriptions")
    for path, name in (("/console/bank/alerts", "10-bank-alerts"), ("/console/bank/consents", "11-bank-consents"),
                       ("/console/statistics", "12-bank-statistics")):
        assert visit.go(path).status == 200
        visit.shoot(name)
    assert "800,000.00" in page.locator("[data-figure=amount_cny]").inner_text()

    visit.go("/console/bank/score?lang=en")
    assert page.locator("h1").inner_text() == "Score look-up"
    visit.shoot("13-bank-score-en")
    visit.go("/console/bank/uses")  # the choice stays (cookie)
    assert page.locator("h1").inner_text() == "Uses"


def test_a_bank_cannot_open_another_banks_use_by_changing_the_address(visit: Visit, site: Site) -> None:
    code = site.platform.codes[40]
    theirs = site.score(BANK_A, code, ref="LA-ALPHA-SECRET")
    page = visit.page
    visit.log_in(site.key(BANK_B))
    mine = site.score(BANK_B, site.platform.codes[41])
    assert visit.go(f"/console/bank/uses/{mine}").status == 200 and mine in page.locator("h1").inner_text()
    reply = visit.go(f"/console/bank/uses/{theirs}")
    assert reply.status == 404
    text = page.content()
    assert code not in text and "LA-ALPHA-SECRET" not in text
    visit.shoot("14-bank-other-banks-use-404")
    visit.go(f"/console/bank/uses?credit_code={code}")  # the filter echoes what the bank typed, nothing more
    assert page.locator("table.data").count() == 0 and "没有记录" in page.locator("main").inner_text()
    visit.go(f"/console/bank/uses?after=99999999999.{theirs}")  # their use as a cursor only positions in mine
    listed = page.locator("table.data").inner_text()
    assert mine in listed and theirs not in listed and code not in listed
    assert visit.go("/console/statistics?institution_id=bank/alpha").status == 403
    assert visit.go("/console/compliance/uses").status == 403  # another role's page
    visit.shoot("15-bank-forbidden-role")
    # With the other bank's use id in a feedback form's address, the post is refused like a missing use.
    csrf = page.evaluate("document.querySelector('input[name=csrf]').value")
    answer = page.request.post(f"{visit.base}/console/bank/uses/{theirs}/feedback",
                               form={"csrf": csrf, "type": "decision", "decision": "DECLINED"})
    assert answer.status == 404
    assert site.platform.services.uses.get(theirs).decision is None


def test_compliance_officer_verifies_a_receipt_follows_a_timeline_and_exports(visit: Visit, site: Site) -> None:
    services, codes = site.platform.services, site.platform.codes
    code = codes[50]
    site.platform.authorise_monitoring(code, BANK_A)
    use_id = site.score(BANK_A, code, ref="LA-TIMELINE")
    services.publisher.publish(now=site.platform.clock())  # an earlier checkpoint: the chain has two links
    services.feedback.record(use_id, DecisionFeedback(Decision.DECLINED, first_loan=True), institution_id=BANK_A,
                             now=site.platform.clock())
    tampered = site.score(BANK_B, codes[51], ref="LA-TAMPER")
    site.score(BANK_B, codes[52], ref="LA-LATE", days_ago=40)  # feedback overdue
    services.publisher.publish(now=site.platform.clock())
    page = visit.page
    visit.log_in(site.key(COMPLIANCE))
    assert page.url.endswith("/console/compliance/uses")
    visit.shoot("16-compliance-uses")

    visit.go(f"/console/compliance/uses?institution_id={BANK_A}&credit_code={code}")
    page.get_by_role("link", name=use_id).click()
    page.get_by_role("button", name="验证").click()
    verdict = page.get_by_test_id("verdict")
    assert "收据有效" in verdict.inner_text()
    checked = page.locator("table.data tbody").inner_text()
    assert "包含在大小为" in checked and "签名" in checked and "一致（一致性证明" in checked and "✗" not in checked
    visit.shoot("17-compliance-verify-ok")

    with services.engine.begin() as conn:  # someone rewrites a served score in the database
        conn.execute(update(uses).where(uses.c.id == tampered).values(score=uses.c.score + 50))
    visit.go(f"/console/compliance/verify?use_id={tampered}")
    page.get_by_role("button", name="验证").click()
    assert "验证未通过" in page.get_by_test_id("verdict").inner_text()
    assert "内容与数据库中的记录一致" in page.get_by_test_id("verdict").inner_text()  # names the failed check
    visit.shoot("18-compliance-verify-tampered")

    visit.go(f"/console/compliance/timeline?credit_code={code}")
    timeline = page.locator("ol.timeline").inner_text()
    assert "授权 ACTIVE" in timeline and "放贷决定：DECLINED" in timeline and "用数：SCORE" in timeline
    visit.shoot("19-compliance-timeline")
    visit.go("/console/compliance/authorisations")
    assert code in page.locator("table.data").inner_text()
    visit.shoot("20-compliance-authorisations")
    visit.go("/console/compliance/overdue")
    assert BANK_B in page.locator("table.data").inner_text()
    visit.shoot("21-compliance-overdue")
    visit.go(f"/console/compliance/uses?institution_id={BANK_B}")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 CSV").click()
    exported = _csv(download.value)
    assert exported and {r["institution_id"] for r in exported} == {BANK_B}
    visit.go("/console/statistics")
    visit.shoot("22-compliance-statistics")
    assert BANK_A in page.locator("section:has(#by-bank) table").inner_text()  # every bank, for compliance


def test_admin_without_a_federation_and_the_extension_points(visit: Visit, site: Site) -> None:
    page = visit.page
    # The enterprise's pages need an enterprise's session (test_enterprise_console_browser.py).
    assert visit.go("/console/enterprise").url.endswith("/console/enterprise/login?next=%2Fconsole%2Fenterprise")
    assert visit.go("/console/source-unit").status == 200  # served by the source nodes, not here
    assert "/console/" in page.locator("p.notice").inner_text() and "admin_url" in page.locator("main").inner_text()
    visit.shoot("24-source-unit-admin-address")
    visit.log_in(site.key(ADMIN))
    assert page.url.endswith("/console/operator/nodes")
    assert "未连接联邦" in page.locator("main").inner_text()
    visit.shoot("25-operator-standalone")
    page.get_by_role("button", name="退出登录").click()
    assert page.url.endswith("/console/login")
    assert visit.go("/console/operator/nodes").url.endswith("/console/login?next=%2Fconsole%2Foperator%2Fnodes")
