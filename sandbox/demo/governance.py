"""The demo's data-governance steps: each source unit reviews and signs the project's approval on its own node
(the tax bureau declines a request naming an item it will not share for this project, then approves the
narrower one), a job asking for that item is refused, a `not_shared` column never leaves, and a revocation
stops online scoring through that unit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from cli.operator_client import OperatorError
from sandbox.governance import ApprovalPlan
from sandbox.launcher import LocalFederation

DEMO_PROJECT = "credit-risk-2026"
REVIEWER = "tax"  # the unit whose administrator leaves items out, keeps a column at home and later revokes
LEFT_OUT = "invoices_issued_12m"
NOT_SHARED = "late_filings_12m"
CATALOGUE_CONDITIONS = {REVIEWER: {NOT_SHARED: "not_shared"}}
PROJECT_PLAN = ApprovalPlan(project=DEMO_PROJECT, purpose="RISK_MODELLING",
                            description="joint credit-risk models and online scoring for the credit-easy-loan platform",
                            algorithms={"psi": 0, "secureboost": 2048, "hetero_lr": 2048, "scorecard": 2048})
VERIFICATION_PLAN = ApprovalPlan(project="verification-service", purpose="VERIFICATION_SERVICE",
                                 description="answer banks' verifications under enterprises' authorisations",
                                 algorithms={"verification": 0}, online=False)


def approve_project(federation: LocalFederation, sources: Sequence[str], out: Callable[[str], None], *,
                    verifier: str | None = None) -> dict[str, str]:
    """The operator files the project's approval for each unit; each unit's administrator reviews it on its own
    node (and `verifier`'s also approves answering verifications). Returns the approval id of each unit."""
    approvals: dict[str, str] = {}
    for name in sources:
        approval_id = federation.request_approval(name, PROJECT_PLAN)
        with federation.admin(name) as admin:
            admin.sync()
            if name == REVIEWER:
                shown = admin.show(approval_id)
                out(f"      source/{name} reviews {approval_id}: {len(shown['terms']['items'])} items asked, "
                    f"{NOT_SHARED} is not_shared in its catalogue (never usable)")
                admin.move(approval_id, "decline", f"{LEFT_OUT} is not approved for this project")
                out(f"      source/{name} declines it: {LEFT_OUT} is not approved for this project")
                approval_id = federation.request_approval(name, _without(PROJECT_PLAN, LEFT_OUT))
                admin.sync()
                out(f"      the operator files {approval_id} without {LEFT_OUT}")
            admin.approve(approval_id)
        approvals[name] = approval_id
    if verifier is not None:
        federation.provision(VERIFICATION_PLAN, [verifier])
    with federation.client() as client:
        seen = client.approvals(project=DEMO_PROJECT)
    for info in seen:
        out(f"      {info.source:<26} {info.approval_id}  {info.status:<9} {info.reason}")
    return approvals


def _without(plan: ApprovalPlan, item: str) -> ApprovalPlan:
    from dataclasses import replace

    return replace(plan, leave_out=(*plan.leave_out, item))


def show_refusals(federation: LocalFederation, sources: Sequence[str], train_results: Mapping[str, Any],
                  out: Callable[[str], None]) -> bool:
    """A job asking for the left-out item is refused; the not_shared column shaped nothing of the model."""
    from sandbox.demo.run import demo_job

    ok = True
    items = train_results.get(f"source/{REVIEWER}", {}).get("items", [])
    kept_home = NOT_SHARED not in items and LEFT_OUT not in items and bool(items)
    ok &= kept_home
    out(f"      the model's training at source/{REVIEWER} loaded {len(items)} approved items; {NOT_SHARED} "
        f"(not_shared) and {LEFT_OUT} (not approved) never left the node" + ("" if kept_home else "  <-- UNEXPECTED"))
    job = demo_job(list(sources), trees=2, key_bits=2048, project=DEMO_PROJECT)
    job = job.replace("[psi]", f'[items]\n"source/{REVIEWER}" = ["revenue_12m_cny", "{LEFT_OUT}"]\n\n[psi]')
    with federation.client() as client:
        try:
            job_id = client.submit(job)
            status = None
            for event in client.watch(job_id, timeout=600):
                if event.HasField("status"):
                    status = event.status
        except OperatorError as exc:
            out(f"      unexpected: {exc}  <-- UNEXPECTED")
            return False
    refused = status is not None and status.state == "FAILED" and "ITEM_NOT_APPROVED" in status.error
    ok &= refused
    out(f"      a job asking source/{REVIEWER} for {LEFT_OUT}: {status.state if status else '?'}: "
        f"{status.error if status else ''}" + ("" if refused else "  <-- UNEXPECTED"))
    return ok


def revoke_and_score(federation: LocalFederation, approval_id: str, api_key: str, credit_code: str,
                     out: Callable[[str], None]) -> bool:
    """The unit revokes the project's approval: the next online score through it is refused (the platform's
    partial-failure policy then names the unit)."""
    body = {"credit_code": credit_code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-2026-GOV"}
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=federation.api_url, timeout=30.0) as http:
        before = http.post("/v1/scores", headers=headers, json=body)
        with federation.admin(REVIEWER) as admin:
            admin.move(approval_id, "revoke", "the project's data-sharing agreement ended")
        after = http.post("/v1/scores", headers=headers, json=body)
    detail = after.json() if after.headers.get("content-type", "").startswith("application/json") else {}
    ok = before.status_code == 200 and after.status_code == 503 and \
        detail.get("failed_sources") == [f"source/{REVIEWER}"]
    out(f"      before: HTTP {before.status_code}; source/{REVIEWER} revokes {approval_id}; after: HTTP "
        f"{after.status_code} {detail.get('code', '')} {detail.get('failed_sources', '')}"
        + ("" if ok else "  <-- UNEXPECTED"))
    return ok


def show_usage_report(federation: LocalFederation, out: Callable[[str], None], *, wait_s: float = 10.0) -> bool:
    """The reviewing unit's usage report for today: every line checked against its leaf and a signed checkpoint
    of the platform's one audit log, then compared with the node's own record."""
    import time
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + wait_s
    with federation.admin(REVIEWER) as admin:
        while True:  # the platform reports the answers it received every second
            report = admin.usage(today, today)
            if report["verified"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    tasks, answers = report["tasks"], report["answers"]
    stages = sorted({t["stage"] for t in tasks})
    out(f"      source/{REVIEWER}'s usage report for {today}: {len(tasks)} stages under its approvals "
        f"({', '.join(stages)}), each with its leaf and an inclusion proof under the platform's one log, checkpoint "
        f"size {report['tree_size']} cosigned by {report['witnesses']} witnesses")
    for a in answers:
        out(f"        {a['kind']:<6} {a['model_id'] or '-':<34} {a['institution']:<20} {a['purpose']:<22} "
            f"log {a['log_count']:>4}  own record {a['own_count']:>4}  {a['status']}")
    tampering = [d for d in report["differences"] if d["what"] in ("altered_line", "bad_proof", "foreign_line",
                                                                  "not_in_log", "not_in_own_record")]
    for d in report["differences"]:
        out(f"        difference: {d}")
    out("      every line verified against the log" if not tampering else "      <-- UNEXPECTED: lines fail")
    return not tampering
