"""Source units decide, over real processes (coordinator, platform with its API, two source nodes; mTLS gRPC
and HTTP): approvals filed through the coordinator and signed on each unit's side, every refusal code a job
or a request meets, the insider attack closed, a revocation ending training at its next round and stopping
online scoring, and query quotas counted exactly under concurrent requests."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main as cli_main
from cli.operator_client import OperatorError, stage_results
from consent.governance.admin_signature import sign_admin_request
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from sandbox.governance import ApprovalPlan
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

pytestmark = pytest.mark.slow
NOT_SHARED, LEFT_OUT, OMITTED = "late_filings_12m", "invoices_issued_12m", "general_vat_taxpayer"
PROJECT, QUOTA = "credit-2026", 40


def job(project: str = PROJECT, *, items: str = "", stages: str = '"psi", "train", "publish"', trees: int = 2,
        name: str = "gov") -> str:
    text = (f'[job]\nname = "{name}"\nproject = "{project}"\nstages = [{stages}]\n[parties]\n'
            f'active = "platform/main"\npassive = ["source/tax", "source/social_insurance"]\n')
    if items:
        text += f'[items]\n"source/tax" = [{items}]\n'
    return text + (f'[train]\nalgorithm = "secureboost"\nn_trees = {trees}\nmax_depth = 2\nbins = 8\nencryption = false\n'
                   f'key_bits = 1024\nholdout = 0.2\ntimeout_seconds = 60\n')


def run(federation: LocalFederation, text: str) -> control_pb2.JobStatus:
    with federation.client() as client:
        job_id = client.submit(text)
        for event in client.watch(job_id, timeout=300):
            if event.HasField("status"):
                return event.status
        return client.status(job_id)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("gov-data")
    generate(300, 17, data)
    fed = LocalFederation(
        tmp_path_factory.mktemp("gov-fed") / "state", NodeData(data / "platform.toml", data / "platform.csv"),
        {s: NodeData(data / f"{s}.toml", data / f"{s}.csv") for s in ("tax", "social_insurance")},
        node_policy={"allow_plaintext_training": True, "allow_insecure_keys_for_tests": True},
        catalogue_conditions={"tax": {NOT_SHARED: "not_shared", OMITTED: "omit"}},
        approvals=())  # no approval yet: the tests file them
    with fed:
        fed.data = data  # type: ignore[attr-defined]
        yield fed
    for member in fed.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


def refusal(status: control_pb2.JobStatus) -> str:
    assert status.state == "FAILED", status
    return status.error


def xyd(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """The `xyd` command, run in this process (its code path without a Python start-up per call)."""
    capsys.readouterr()
    assert cli_main(list(argv)) == 0, capsys.readouterr()
    return capsys.readouterr().out


def bank_key(federation: LocalFederation, capsys: pytest.CaptureFixture, slug: str) -> str:
    out = xyd(capsys, "institution", "add", "--config", str(federation.platform_config), "--kind", "bank",
              "--slug", slug, "--name", slug, "--role", "bank")
    return json.loads(out.strip().splitlines()[-1])["api_key"]


def test_without_an_approval_nothing_runs(federation: LocalFederation, capsys: pytest.CaptureFixture) -> None:
    status = run(federation, job(stages='"psi"'))
    assert ": APPROVAL_MISSING" in refusal(status)  # whichever unit answered first
    shown = xyd(capsys, "job", "show", status.job_id, "--operator", str(federation.operator_config_path()))
    assert "APPROVAL_MISSING" in shown


def test_a_unit_approves_with_items_left_out_and_jobs_meet_each_refusal(federation: LocalFederation) -> None:
    plan = ApprovalPlan(project=PROJECT, leave_out=(LEFT_OUT,), queries=QUOTA,
                        institutions=("bank/gov-bank",), institution_kinds=())
    approved = federation.provision(plan)
    with federation.client() as client:  # the coordinator sees what each unit decided
        seen = {a.source: a.status for a in client.approvals(project=PROJECT)}
    assert seen == {"source/tax": "APPROVED", "source/social_insurance": "APPROVED"}
    with federation.admin("tax") as admin:
        shown = admin.show(approved["tax"])
    assert LEFT_OUT not in shown["usable_items"] and NOT_SHARED not in shown["usable_items"]
    assert "source/tax: ITEM_NOT_APPROVED" in refusal(run(federation, job(items=f'"{LEFT_OUT}"')))
    assert "source/tax: ITEM_NOT_SHARED" in refusal(run(federation, job(items=f'"{NOT_SHARED}"')))
    assert "source/tax: ITEM_NOT_SHARED" in refusal(run(federation, job(items=f'"{OMITTED}"')))  # uncatalogued
    assert "APPROVAL_MISSING" in refusal(run(federation, job(project="another-project", stages='"psi"')))
    status = run(federation, job())
    assert status.state == "SUCCEEDED", status.error
    train = stage_results(status)["train"]["source/tax"]
    assert train["approval_id"] == approved["tax"]
    assert LEFT_OUT not in train["items"] and NOT_SHARED not in train["items"] and OMITTED not in train["items"]
    federation.model_id = stage_results(status)["publish"]["platform/main"]["model_id"]  # type: ignore[attr-defined]


def test_an_expired_approval_a_stranger_and_an_unapproved_algorithm_are_refused(federation: LocalFederation) -> None:
    for project, plan in (("expired", ApprovalPlan(project="expired", starts=-10, days=-5)),
                          ("alone", ApprovalPlan(project="alone", counterparties=())),
                          ("psi-only", ApprovalPlan(project="psi-only", algorithms={"psi": 0}))):
        federation.provision(plan, names=["tax"])
        federation.provision(ApprovalPlan(project=project), names=["social_insurance"])
    assert "source/tax: APPROVAL_EXPIRED" in refusal(run(federation, job(project="expired", stages='"psi"')))
    assert "source/tax: COUNTERPARTY_NOT_APPROVED" in refusal(run(federation, job(project="alone", stages='"psi"')))
    assert "source/tax: ALGORITHM_NOT_APPROVED" in refusal(run(federation, job(project="psi-only")))


def test_only_the_platform_may_lead(federation: LocalFederation) -> None:
    led_by_source = job(stages='"psi"').replace('active = "platform/main"', 'active = "source/social_insurance"')
    led_by_source = led_by_source.replace('passive = ["source/tax", "source/social_insurance"]',
                                          'passive = ["source/tax"]')
    with federation.client() as client, pytest.raises(OperatorError, match="only the platform may lead"):
        client.submit(led_by_source)
    # The insider: the coordinator's certificate dispatches a matching job led by another source node.
    coordinator = NodeTls.load_issued(federation.pki_dir, Identity("coordinator", "main"))
    with federation.client() as client:
        nodes = {n.party: n.address for n in client.nodes()}
    params = {"active": "source/social_insurance", "passive": ["source/tax"], "project": PROJECT,
              "active_learns": True, "passive_learns": False, "algorithm": "psi"}
    channel = open_secure_channel(nodes["source/tax"], coordinator, Identity("source", "tax"))
    try:
        events = list(control_pb2_grpc.NodeStub(channel).RunTask(control_pb2.TaskRequest(
            job_id="job-insider-1", stage="psi", params_json=json.dumps(params),
            peers=[control_pb2.Peer(party=p, address=nodes[p]) for p in ("source/tax", "source/social_insurance")]),
            timeout=60))
    finally:
        channel.close()
    assert [e.WhichOneof("kind") for e in events][-1] == "error"
    assert events[-1].error.code == "LEADER_NOT_APPROVED"


def test_the_admin_endpoint_takes_only_the_units_signed_fresh_requests(federation: LocalFederation) -> None:
    url = (federation.node_state("source", "tax") / "admin_url").read_text().strip()
    now = int(datetime.now(UTC).timestamp())
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/admin/approvals").status_code == 401
        foreign = sign_admin_request(Ed25519PrivateKey.generate(), "GET", "/admin/approvals", b"", at=now)
        assert http.get("/admin/approvals", headers=foreign).status_code == 401
        from consent.governance import load_approval_private_key

        key = load_approval_private_key(federation.approval_key("tax"))
        stale = sign_admin_request(key, "GET", "/admin/approvals", b"", at=now - 3600)
        assert http.get("/admin/approvals", headers=stale).status_code == 401
        # Signed by the unit's key as a request, but carrying an approval another key signed: refused.
        from cli.source_admin_client import AdminClient, AdminError
        from consent.governance import ApprovalTerms, sign_approval

        with federation.client() as client:
            filed = client.approvals(source="source/tax", status="APPROVED")[0]
        foreign = sign_approval(ApprovalTerms.from_json(json.loads(filed.terms_json)), Ed25519PrivateKey.generate(),
                                signed_at=datetime.now(UTC))
        with AdminClient(url, key) as admin, pytest.raises(AdminError) as caught:
            admin.request("POST", f"/admin/approvals/{filed.approval_id}/approve", {"signed": foreign.to_json()})
        assert caught.value.status == 400
        fresh = sign_admin_request(key, "GET", "/admin/approvals", b"", at=now)
        assert http.get("/admin/approvals", headers=fresh).status_code == 200
        assert http.get("/admin/approvals", headers=fresh).status_code == 401  # replayed
        other_path = sign_admin_request(key, "GET", "/admin/approvals", b"", at=now)
        assert http.get("/admin/catalogue", headers=other_path).status_code == 401


def test_the_city_list_is_versioned_and_expands_when_a_unit_accepts(federation: LocalFederation,
                                                                   capsys: pytest.CaptureFixture) -> None:
    with federation.client() as client:
        before = client.catalogue()
    listed = json.loads(before.catalogue_json)
    tax = next(c for c in listed["sources"] if c["source"] == "source/tax")
    conditions = {i["name"]: i["condition"] for i in tax["items"]}
    assert conditions[NOT_SHARED] == "not_shared" and OMITTED not in conditions
    key = bank_key(federation, capsys, "expansion-bank")
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        served = http.get("/v1/catalogue")
        assert served.status_code == 200 and served.json()["version"] == before.version
        uses = {i["name"]: i["uses"] for s in served.json()["sources"] if s["source"] == "source/tax" for i in s["items"]}
        assert uses[NOT_SHARED] == [] and all("computation" in u for n, u in uses.items() if n != NOT_SHARED)
        filed = http.post("/v1/catalogue/expansion-requests", json={
            "source": "source/tax", "item": OMITTED, "category": "TAX", "description": "General VAT taxpayer",
            "reason": "small-scale taxpayers default more often", "intended_use": "pre-loan review model"})
        assert filed.status_code == 201, filed.text
        request_id = filed.json()["request_id"]
        bad = http.post("/v1/catalogue/expansion-requests", json={**filed.json() | {"category": "WEATHER"}})
        assert bad.status_code == 422
    with federation.admin("tax") as admin:
        [asked] = [e for e in admin.expansions() if e["request_id"] == request_id]
        assert asked["requested_by"] == "bank/expansion-bank"
        admin.decide_expansion(request_id, accept=True, reason="public list of the tax bureau",
                               item={"condition": "conditional", "update_frequency": "monthly",
                                     "sensitivity": "TRADE_SECRET"})
    with federation.client() as client:
        after = client.catalogue()
    assert after.version == before.version + 1
    diff = xyd(capsys, "catalogue", "diff", str(before.version), str(after.version), "--operator",
               str(federation.operator_config_path()))
    assert f"+ source/tax {OMITTED} [TAX, conditional]" in diff
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        mine = http.get("/v1/catalogue/expansion-requests").json()["requests"]
    assert [(r["request_id"], r["status"]) for r in mine] == [(request_id, "ACCEPTED")]


def test_a_revocation_ends_training_at_its_next_round(federation: LocalFederation) -> None:
    approved = federation.provision(ApprovalPlan(project="revoked-mid-run"), names=["tax"])
    federation.provision(ApprovalPlan(project="revoked-mid-run"), names=["social_insurance"])
    revoked = threading.Event()
    with federation.client() as client:
        job_id = client.submit(job(project="revoked-mid-run", trees=40, stages='"psi", "train"'))
        for event in client.watch(job_id, timeout=300):
            if event.HasField("status"):
                final = event.status
                break
            if not revoked.is_set() and event.stage == "train" and "tree 2/" in event.message:
                with federation.admin("tax") as admin:  # the unit's administrator revokes mid-training
                    admin.move(approved["tax"], "revoke", "the project was stopped")
                revoked.set()
    assert revoked.is_set()
    federation.revoked_approval = approved["tax"]  # type: ignore[attr-defined]
    assert "source/tax: APPROVAL_REVOKED" in refusal(final)
    assert "tree 40/40" not in final.error
    with federation.client() as client:
        seen = {a.approval_id: a.status for a in client.approvals(source="source/tax")}
    assert seen[approved["tax"]] == "REVOKED"


def test_suspension_stops_online_scoring_and_quotas_hold_under_concurrency(federation: LocalFederation,
                                                                          capsys: pytest.CaptureFixture) -> None:
    model_id = federation.model_id  # type: ignore[attr-defined]
    key = bank_key(federation, capsys, "gov-bank")
    codes = sorted(_codes(federation.data / "platform.csv"))  # type: ignore[attr-defined]
    body = {"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "GOV-1"}
    with federation.client() as client:
        approval = next(a.approval_id for a in client.approvals(source="source/tax", project=PROJECT))
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        assert http.post("/v1/scores", json={"credit_code": codes[0], **body}).status_code == 200
        with federation.admin("tax") as admin:
            admin.move(approval, "suspend", "audit of the project")
        refused = http.post("/v1/scores", json={"credit_code": codes[1], **body})
        assert refused.status_code == 503 and refused.json()["failed_sources"] == ["source/tax"]
        with federation.admin("tax") as admin:
            admin.move(approval, "resume", "audit passed")
        assert http.post("/v1/scores", json={"credit_code": codes[2], **body}).status_code == 200
    # Two answers counted of 40; 4 callers x 20 single-enterprise requests straight to the node: 38 answered.
    platform = NodeTls.load_issued(federation.pki_dir, Identity("platform", "main"))
    with federation.client() as client:
        address = next(n.address for n in client.nodes() if n.party == "source/tax")
    channel = open_secure_channel(address, platform, Identity("source", "tax"))
    stub = scoring_pb2_grpc.PartyScoringStub(channel)

    def ask(code: str) -> str:
        try:
            stub.LeafMasks(scoring_pb2.MaskRequest(model_id=model_id, ids=[code], institution="bank/gov-bank"),
                           timeout=30)
            return "OK"
        except grpc.RpcError as error:
            return error.details().split(":")[0]

    try:
        # 4 callers: a node admits at most 4 calls of one peer still waiting for their request ([limits]).
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(ask, (codes[k % len(codes)] for k in range(80))))
    finally:
        channel.close()
    assert outcomes.count("OK") == QUOTA - 2 and outcomes.count("QUOTA_EXCEEDED") == 80 - (QUOTA - 2), outcomes
    with federation.admin("tax") as admin:
        assert admin.show(approval)["used"]["queries"] == QUOTA


def _codes(path: Path) -> list[str]:
    import pandas as pd

    return list(pd.read_csv(path, usecols=["credit_code"], dtype=str)["credit_code"])


def test_the_usage_report_reconciles_with_the_log_and_catches_a_deleted_or_altered_line(
        federation: LocalFederation, capsys: pytest.CaptureFixture) -> None:
    """Runs after the quota test: the 38 answers asked of the node directly (not through the platform) are in
    the node's own record and not in the platform's lines, and the report says so; everything else agrees."""
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + 60
    with federation.admin("tax") as admin:
        while True:  # the platform reports what it received every second
            report = admin.usage(today, today)
            served = [a for a in report["answers"] if a["purpose"] == "PRE_LOAN_REVIEW"]
            if served and served[0]["log_count"] == 2 or time.monotonic() > deadline:
                break
    assert [(a["log_count"], a["own_count"], a["status"]) for a in served] == [(2, 2, "OK")]
    assert report["pending"] == 0 and report["witnesses"] == 2  # the one log's checkpoint, cosigned by both nodes
    assert [(d["what"], d["log_count"], d["own_count"]) for d in report["differences"]] == \
        [("count_differs", 0, QUOTA - 2)]  # asked of the node directly: the platform never logged them
    tasks = {(t["job_id"], t["stage"]): t for t in report["tasks"]}
    assert tasks and all(t["status"] == "OK" and t["leaf_index"] is not None for t in tasks.values())
    # The PSI of the job revoked mid-training succeeded; its failed training left no line on either side.
    assert any(t["approval_id"] == federation.revoked_approval and t["stage"] == "psi"  # type: ignore[attr-defined]
               for t in tasks.values())
    assert not any(t["approval_id"] == federation.revoked_approval and t["stage"] == "train"  # type: ignore[attr-defined]
                   for t in tasks.values())
    assert {t["stage"] for t in tasks.values()} >= {"psi", "train", "publish"}
    assert [(m["model_id"], m["online"], m["institutions"]) for m in report["models"]] == \
        [(federation.model_id, True, ["bank/gov-bank"])]  # type: ignore[attr-defined]
    capsys.readouterr()
    code = cli_main(["source", "usage", "--from", today, "--to", today, "--format", "csv", "--admin",
                     str(federation.node_state("source", "tax")), "--key", str(federation.approval_key("tax"))])
    csv_out = capsys.readouterr().out
    assert code == 1  # not everything reconciles: the answers the platform never logged
    # Someone with the coordinator's database deletes one line and alters another (each found by the number of
    # its event, whose receipt names its leaf in the platform's one log).
    import sqlalchemy as sa

    from consent.governance.outbox import outbox_events
    from consent.governance.usage_lines import line_bytes, usage_lines

    (job_a, stage_a), (job_b, stage_b) = sorted(tasks)[:2]
    engine = sa.create_engine(f"sqlite:///{federation.node_state('coordinator', 'main') / 'coordinator.db'}")

    def event_of(task: dict) -> int:
        return conn.execute(sa.select(outbox_events.c.seq).where(outbox_events.c.leaf_index == task["leaf_index"])
                            ).scalar_one()

    with engine.begin() as conn:
        deleted, changed = event_of(tasks[(job_a, stage_a)]), event_of(tasks[(job_b, stage_b)])
        conn.execute(sa.delete(usage_lines).where(usage_lines.c.event_seq == deleted))
        altered = {k: v for k, v in tasks[(job_b, stage_b)].items() if k not in ("leaf_index", "status")}
        conn.execute(sa.update(usage_lines).where(usage_lines.c.event_seq == changed)
                     .values(line=line_bytes({**altered, "rows": altered["rows"] + 1000})))
    engine.dispose()
    with federation.admin("tax") as admin:
        tampered = admin.usage(today, today)
    found = sorted(d["what"] for d in tampered["differences"])
    assert not tampered["verified"] and found.count("not_in_log") == 2 and "altered_line" in found
    rows = csv_out.splitlines()
    assert rows[0].startswith("section,day,kind") and any(r.startswith("task,") for r in rows)
    assert any(r.startswith("difference,") and "count_differs" in r for r in rows)


GOVERNANCE_KINDS = {"approval_filed", "approval_status_changed", "catalogue_published", "catalogue_expansion_filed",
                    "catalogue_expansion_decided", "governed_task_run", "usage_reported"}


def _copy_db(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite database (its online backup), to attack without touching the federation."""
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def test_the_one_log_holds_every_event_and_catches_a_rewritten_deleted_or_reordered_entry(
        federation: LocalFederation, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """After the flow: every governance event (approvals, catalogue versions, expansions, usage lines) is a leaf of
    the platform's one log beside the consent-side leaves (scores, a public-report read), where the coordinator's
    receipt says; the officer's `xyd audit verify-chain` and the compliance endpoint verify the whole of it; a
    rewritten, deleted or reordered governance entry in a copy of the database is reported as tampering."""
    import sqlalchemy as sa

    from consent.audit import AuditEvent, AuditLog, open_engine
    from consent.governance.outbox import outbox_events
    from federation.key_binding import log_origin

    config = str(federation.platform_config)
    key = bank_key(federation, capsys, "report-bank")
    xyd(capsys, "institution", "agreement", "--config", config, "bank/report-bank", "--scope", "PUBLIC_REPORTS",
        "--reference", "DSA-1", "--not-before", "2020-01-01T00:00:00Z", "--not-after", "2099-01-01T00:00:00Z")
    code = sorted(_codes(federation.data / "platform.csv"))[5]  # type: ignore[attr-defined]
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        read = http.get(f"/v1/reports/{code}", params={"purpose": "PRE_LOAN_REVIEW"})
    assert read.status_code == 200, read.text
    report_leaf = read.json()["audit"]["leaf_index"]

    coordinator = sa.create_engine(f"sqlite:///{federation.node_state('coordinator', 'main') / 'coordinator.db'}")
    deadline = time.monotonic() + 30
    while True:  # the coordinator forwards at once; a usage line reported a moment ago may still be on its way
        with coordinator.connect() as conn:
            events = conn.execute(sa.select(outbox_events.c.seq, outbox_events.c.leaf, outbox_events.c.leaf_index)
                                  .order_by(outbox_events.c.seq)).all()
        if all(e.leaf_index is not None for e in events) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    coordinator.dispose()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    copy = _copy_db(federation.platform_db, tmp_path / "platform.db")
    log = AuditLog(open_engine(f"sqlite:///{copy}"))
    kinds = {leaf.index: AuditEvent.from_leaf(leaf.leaf).kind.value for leaf in log.leaves()}
    assert all(log.leaf(e.leaf_index).leaf == bytes(e.leaf) for e in events)  # where each receipt says
    assert {kinds[e.leaf_index] for e in events} == GOVERNANCE_KINDS
    assert kinds[report_leaf] == "report_read" and "score_served" in kinds.values()
    assert sorted(e.leaf_index for e in events) == [e.leaf_index for e in events]  # in the coordinator's order

    # The officer verifies the whole log, with the log key the platform's certificate vouches for.
    from cli.registry_admin import fetch_log_trust
    from federation.key_binding import BindingVerifier
    from federation.proto import verification_pb2, verification_pb2_grpc

    tls = NodeTls.load_issued(federation.pki_dir, Identity("coordinator", "main"))
    channel = open_secure_channel(federation.platform_address, tls, Identity("platform", "main"))
    try:
        trust = fetch_log_trust(verification_pb2_grpc.ConsentRegistryStub(channel),
                                BindingVerifier(tls.ca_pem), platform=Identity("platform", "main"),
                                now=datetime.now(UTC))
        # The coordinator gets proofs of its own leaves only, never of a consent-side one.
        proofs = verification_pb2_grpc.ConsentRegistryStub(channel).GovernanceProofs(
            verification_pb2.GovernanceProofQuery(indexes=[report_leaf, events[-1].leaf_index]), timeout=30)
        assert [p.index for p in proofs.proofs] == [events[-1].leaf_index] and proofs.note
    finally:
        channel.close()
    assert trust.log.name == log_origin(Identity("platform", "main")) and len(trust.witnesses) == 2
    # Nobody but the coordinator appends governance events.
    source = NodeTls.load_issued(federation.pki_dir, Identity("source", "tax"))
    channel = open_secure_channel(federation.platform_address, source, Identity("platform", "main"))
    try:
        with pytest.raises(grpc.RpcError) as refused:
            verification_pb2_grpc.ConsentRegistryStub(channel).AppendGovernance(verification_pb2.GovernanceEvents(
                events=[verification_pb2.GovernanceEvent(seq=len(events) + 1, leaf=bytes(events[0].leaf))]),
                timeout=30)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()

    def verify_chain(db: Path) -> tuple[int, str]:
        capsys.readouterr()
        code = cli_main(["audit", "verify-chain", "--db", str(db), "--log-vkey", trust.log.vkey(), "--offline",
                         "--state", str(tmp_path / f"state-{db.stem}.json")])
        return code, capsys.readouterr().out

    code, out = verify_chain(copy)
    assert code == 0 and "chain OK" in out, out
    admin_key = json.loads(xyd(capsys, "institution", "add", "--config", config, "--kind", "regulator", "--slug",
                               "officer", "--name", "officer", "--role", "compliance").strip().splitlines()[-1])["api_key"]
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as http:
        checked = http.get("/v1/compliance/audit/verification").json()
    assert checked["ok"] and checked["tree_size"] >= max(kinds) + 1, checked

    leaf_table = log.tables.leaf
    governance = sorted(e.leaf_index for e in events)
    first, second = governance[0], governance[len(governance) // 2]

    def rewrite(conn) -> None:  # a governance leaf back-dated by a millennium; its hash recomputed to match
        from consent.merkle import leaf_hash

        forged = bytes(conn.execute(sa.select(leaf_table.c.leaf).where(leaf_table.c.idx == first)).scalar_one())
        forged = forged.replace(b'"at":"2', b'"at":"1', 1)
        conn.execute(sa.update(leaf_table).where(leaf_table.c.idx == first).values(leaf=forged,
                                                                                  leaf_hash=leaf_hash(forged)))

    def delete(conn) -> None:
        conn.execute(sa.delete(leaf_table).where(leaf_table.c.idx == second))

    def reorder(conn) -> None:  # two governance leaves swap places, with their hashes
        rows = {r.idx: r for r in conn.execute(sa.select(leaf_table).where(leaf_table.c.idx.in_([first, second])))}
        for idx, other in ((first, second), (second, first)):
            conn.execute(sa.update(leaf_table).where(leaf_table.c.idx == idx).values(
                leaf=rows[other].leaf, leaf_hash=rows[other].leaf_hash, kind=rows[other].kind))

    for attack in (rewrite, delete, reorder):
        attacked = _copy_db(copy, tmp_path / f"{attack.__name__}.db")
        engine = sa.create_engine(f"sqlite:///{attacked}")
        with engine.begin() as conn:
            attack(conn)
        engine.dispose()
        code, out = verify_chain(attacked)
        assert code == 1 and "TAMPERED" in out, (attack.__name__, out)
