"""The source-unit administrator's console in a real headless Chromium, over real processes (coordinator,
platform, two source nodes; sandbox/launcher.py): the administrator logs in on the tax unit's admin address
by loading the unit's approval key file (WebCrypto Ed25519 in the browser; the key never reaches the node),
approves one pending request and declines another, reads the catalogue and the usage report with each line's
verification status, then revokes the approval in the browser, after which the project's next job fails with
APPROVAL_REVOKED. Every view is saved under build/screenshots/ (source-admin-*.png); every browser context
refuses requests that leave the admin address.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from consent.canonical_json import canonical_json
from federation.proto import control_pb2
from sandbox.demo.run import source_admin_consoles
from sandbox.governance import ApprovalPlan
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate
from tests.browser_support import Visit, chromium, require_chromium

pytestmark = pytest.mark.browser
PROJECT, DECLINED_PROJECT = "console-2026", "console-declined"


def job(project: str) -> str:
    return (f'[job]\nname = "console"\nproject = "{project}"\nstages = ["psi"]\n[parties]\n'
            f'active = "platform/main"\npassive = ["source/tax", "source/social_insurance"]\n')


def run(federation: LocalFederation, text: str) -> control_pb2.JobStatus:
    with federation.client() as client:
        job_id = client.submit(text)
        for event in client.watch(job_id, timeout=180):
            if event.HasField("status"):
                return event.status
        return client.status(job_id)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    require_chromium()
    data = tmp_path_factory.mktemp("console-data")
    generate(200, 23, data)
    fed = LocalFederation(
        tmp_path_factory.mktemp("console-fed") / "state", NodeData(data / "platform.toml", data / "platform.csv"),
        {s: NodeData(data / f"{s}.toml", data / f"{s}.csv") for s in ("tax", "social_insurance")},
        node_policy={"allow_plaintext_training": True, "allow_insecure_keys_for_tests": True},
        approvals=(), with_api=False)
    with fed:
        yield fed
    for member in fed.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


@pytest.fixture(scope="module")
def browser(federation: LocalFederation) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def admin_url(federation: LocalFederation, unit: str) -> str:
    """The address `xyd demo --keep-running` prints for the unit's administrator (its console, less `/console/`)."""
    shown = source_admin_consoles(federation)[f"source/{unit}"]
    assert shown["approval_key"] == str(federation.approval_key(unit))
    return shown["console_url"].removesuffix("/console/")


@pytest.fixture
def visit(browser, federation: LocalFederation) -> Iterator[Visit]:
    opened = Visit(browser, admin_url(federation, "tax"))
    yield opened
    opened.close()


def log_in(visit: Visit, federation: LocalFederation) -> None:
    visit.go("/console/approvals")
    visit.page.wait_for_url(re.compile("/console/login"))
    visit.page.get_by_label("审批私钥文件").set_input_files(str(federation.approval_key("tax")))
    visit.page.get_by_role("button", name="签名并登录").click()
    visit.page.wait_for_url(re.compile("/console/approvals$"))


def open_approval(visit: Visit, approval_id: str) -> None:
    visit.go("/console/approvals?status=REQUESTED")
    visit.page.get_by_role("link", name=approval_id).click()
    visit.page.wait_for_url(re.compile(approval_id))


@contextmanager
def own_task_altered(federation: LocalFederation, job_id: str, stage: str) -> Iterator[None]:
    """The tax node's own record of one task claims one row more than it read, until the block ends."""
    db = federation.node_state("source", "tax") / "governance" / "governance.db"
    with sqlite3.connect(db) as conn:
        (original,) = conn.execute("SELECT line FROM gov_own_tasks WHERE job_id = ? AND stage = ?",
                                   (job_id, stage)).fetchone()
        altered = json.loads(original)
        altered["rows"] += 1
        conn.execute("UPDATE gov_own_tasks SET line = ? WHERE job_id = ? AND stage = ?",
                     (canonical_json(altered), job_id, stage))
    try:
        yield
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE gov_own_tasks SET line = ? WHERE job_id = ? AND stage = ?", (original, job_id, stage))


def status_of(federation: LocalFederation, approval_id: str) -> str:
    with federation.admin("tax") as admin:
        return admin.show(approval_id)["status"]


def test_an_administrator_approves_and_declines_pending_requests_in_the_browser(
        visit: Visit, federation: LocalFederation) -> None:
    wanted = federation.request_approval("tax", ApprovalPlan(project=PROJECT))
    unwanted = federation.request_approval("tax", ApprovalPlan(project=DECLINED_PROJECT))
    federation.provision(ApprovalPlan(project=PROJECT), names=["social_insurance"])
    page = visit.page
    visit.go("/console/login")
    visit.shoot("source-admin-01-login")
    log_in(visit, federation)
    assert page.locator("text=" + wanted).count() and page.locator("text=" + unwanted).count()
    visit.shoot("source-admin-02-approvals")

    open_approval(visit, wanted)
    assert page.get_by_role("button", name="用审批密钥签署并批准").is_visible()
    visit.shoot("source-admin-03-approval-pending")
    page.get_by_role("button", name="用审批密钥签署并批准").click()
    page.wait_for_url(re.compile(r"done=approve"))
    assert status_of(federation, wanted) == "APPROVED"
    assert page.get_by_role("button", name="撤销").is_visible() and page.get_by_role("button", name="暂停").is_visible()
    visit.shoot("source-admin-04-approval-approved")

    open_approval(visit, unwanted)
    page.get_by_label(re.compile("理由.*拒绝")).fill("不在本年度计划内")
    page.get_by_label(re.compile("理由.*拒绝")).press("Enter")  # the keyboard submits the form
    page.wait_for_url(re.compile(r"done=decline"))
    assert status_of(federation, unwanted) == "DECLINED"
    assert page.locator("text=不在本年度计划内").count() == 1 and page.locator("text=该审批已是终态").count() == 1
    visit.shoot("source-admin-05-approval-declined")

    status = run(federation, job(PROJECT))  # both units approved: the job runs
    assert status.state == "SUCCEEDED", status.error


def test_the_catalogue_and_the_usage_report_with_each_lines_verification(visit: Visit,
                                                                        federation: LocalFederation) -> None:
    page = visit.page
    log_in(visit, federation)
    visit.go("/console/catalogue")
    assert page.locator("table.data tbody tr").count() > 3
    visit.shoot("source-admin-06-catalogue")

    visit.go("/console/usage")
    rows = page.locator("table.data tbody tr")
    assert rows.count() >= 1
    with federation.admin("tax") as admin:  # what the JSON endpoint reports for the same days
        first, last = page.get_by_label("起始日期").input_value(), page.get_by_label("截止日期").input_value()
        report = admin.usage(first, last)
    assert report["verified"] and report["tasks"]
    assert rows.count() == len(report["tasks"]) + len(report["answers"])
    for task in report["tasks"]:
        row = page.locator("tr", has_text=task["job_id"]).filter(has_text=task["stage"])
        assert row.locator("text=已核验").count() == 1 and row.locator(f"text=#{task['leaf_index']}").count() == 1
    assert page.locator("[role=status]", has_text="均已核验").count() == 1
    visit.shoot("source-admin-07-usage-report")
    visit.go("/console/usage?lang=en")
    assert page.locator("text=verified").count() >= len(report["tasks"])
    visit.shoot("source-admin-08-usage-report-en")

    # The node's own record of one task is changed behind its back: that line, and only it, fails.
    task = report["tasks"][0]
    with own_task_altered(federation, task["job_id"], task["stage"]):
        visit.go("/console/usage?lang=zh")
        row = page.locator("tr", has_text=task["job_id"]).filter(has_text=task["stage"])
        assert row.locator("text=不一致").count() == 1 and row.locator("text=已核验").count() == 0
        assert page.locator("text=任务行与本节点记录不符").count() == 1
        assert page.locator("[role=alert]", has_text="1 处不一致").count() == 1
        visit.shoot("source-admin-09-usage-report-differs")


def test_an_administrator_revokes_an_approval_in_the_browser_and_a_job_then_fails(
        visit: Visit, federation: LocalFederation) -> None:
    with federation.admin("tax") as admin:
        approval_id = next(a["approval_id"] for a in admin.approvals("APPROVED") if a["project"] == PROJECT)
    page = visit.page
    log_in(visit, federation)
    visit.go(f"/console/approvals/{approval_id}?lang=zh")
    page.get_by_label(re.compile("理由.*撤销")).fill("项目已终止")
    page.get_by_role("button", name="撤销").click()
    page.wait_for_url(re.compile(r"done=revoke"))
    assert status_of(federation, approval_id) == "REVOKED"
    visit.shoot("source-admin-10-approval-revoked")

    status = run(federation, job(PROJECT))
    assert status.state == "FAILED" and "source/tax: APPROVAL_REVOKED" in status.error, status

    # Logging out forgets the key: the next visit has to load it again.
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile("/console/login"))
    assert page.evaluate("""() => new Promise((ok) => { const r = indexedDB.open("xyd-source-admin", 1);
        r.onsuccess = () => { const g = r.result.transaction("keys").objectStore("keys").get("approval");
                              g.onsuccess = () => ok(g.result === undefined); }; })""")
