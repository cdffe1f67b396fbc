"""A whole federation of separate OS processes on loopback: registration, a PSI job, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from cli.operator_client import stage_results
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

SOURCES = ("tax", "social_insurance", "utilities")


def _ids(path: Path) -> set[str]:
    return set(pd.read_csv(path, usecols=["credit_code"], dtype=str)["credit_code"])


def _job(sources: tuple[str, ...], reveal: str = "both") -> str:
    passive = ", ".join(f'"source/{s}"' for s in sources)
    return (f'[job]\nname = "t"\nproject = "sandbox"\nstages = ["psi"]\n[parties]\nactive = "platform/main"\npassive = [{passive}]\n'
            f'[psi]\nreveal = "{reveal}"\nbatch_size = 300\n')


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(800, 11, out)
    return out


def _federation(state: Path, data_dir: Path, **options) -> LocalFederation:
    return LocalFederation(
        state,
        NodeData(data_dir / "platform.toml", data_dir / "platform.csv"),
        {s: NodeData(data_dir / f"{s}.toml", data_dir / f"{s}.csv") for s in SOURCES},
        **options,
    )


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """One federation shared by the tests that leave it intact."""
    fed = _federation(tmp_path_factory.mktemp("fed") / "state", data_dir)
    with fed:
        yield fed
    for member in fed.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


@pytest.fixture
def own_federation(tmp_path: Path, data_dir: Path):
    """A federation of its own, for a test that kills a node (and does not wait long for it to come back)."""
    fed = _federation(tmp_path / "state", data_dir, coordinator_jobs={"resume_wait_seconds": 3})
    with fed:
        yield fed


def _run(fed: LocalFederation, spec: str):
    with fed.client() as client:
        job_id = client.submit(spec)
        events = list(client.watch(job_id, timeout=120))
        return job_id, events, client.status(job_id)


def test_nodes_publish_schemas_without_values(federation: LocalFederation, data_dir: Path) -> None:
    with federation.client() as client:
        nodes = {n.party: n for n in client.nodes()}
    assert set(nodes) == {"platform/main", *(f"source/{s}" for s in SOURCES)}
    tax = nodes["source/tax"].description.tables[0]
    frame = pd.read_csv(data_dir / "tax.csv", dtype=str)
    assert tax.rows == len(frame)
    assert {c.name for c in tax.columns} | {tax.id_column} == set(frame.columns)
    published = nodes["source/tax"].description.SerializeToString()
    some_values = [v for v in frame.drop(columns=["credit_code"]).iloc[:20].to_numpy().ravel()
                   if isinstance(v, str) and len(v) >= 6]
    assert some_values, "fixture should have values to look for"
    for value in some_values:
        assert value.encode() not in published


def test_psi_job_over_processes_matches_plain_intersection(federation: LocalFederation, data_dir: Path) -> None:
    job_id, events, status = _run(federation, _job(SOURCES))
    assert status.state == "SUCCEEDED", status.error
    assert any(e.message and e.party == "platform/main" for e in events), "no progress from the platform"
    results = stage_results(status)["psi"]
    platform_ids = _ids(data_dir / "platform.csv")
    for s in SOURCES:
        expected = len(platform_ids & _ids(data_dir / f"{s}.csv"))
        assert results["platform/main"]["per_peer"][f"source/{s}"]["intersection"] == expected
        assert results[f"source/{s}"]["intersection"] == expected
        kept = federation.state_dir / "nodes" / f"source-{s}" / "state" / "jobs" / job_id / "psi-intersection.txt"
        assert set(kept.read_text().split()) == platform_ids & _ids(data_dir / f"{s}.csv")


def test_reveal_active_only_keeps_the_source_ignorant(federation: LocalFederation) -> None:
    job_id, _, status = _run(federation, _job(SOURCES[:1], reveal="active"))
    assert status.state == "SUCCEEDED", status.error
    results = stage_results(status)["psi"]
    assert results["source/tax"]["learned_intersection"] is False
    assert not (federation.state_dir / "nodes" / "source-tax" / "state" / "jobs" / job_id /
                "psi-intersection.txt").exists()


def test_job_naming_an_unregistered_party_fails_clearly(federation: LocalFederation) -> None:
    _, _, status = _run(federation, _job(("customs",)))
    assert status.state == "FAILED"
    assert "source/customs has not registered" in status.error


def test_a_dead_source_fails_the_job_with_its_name(own_federation: LocalFederation) -> None:
    victim = next(m for m in own_federation.group.members if m.name == "source/utilities")
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    _, _, status = _run(own_federation, _job(SOURCES))
    assert status.state == "FAILED"
    assert status.error.startswith("stage psi: source/utilities: stopped answering during the task "
                                   "(connection refused at 127.0.0.1:"), status.error
    assert "not answering after 3 s: source/utilities (connection refused)" in status.error


@pytest.mark.timeout(420)
def test_demo_command_runs_end_to_end_and_leaves_no_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--enterprises", "400", "--trees", "2", "--skip-banks", "--sources", "tax,utilities,customs",
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "intersection" in proc.stdout and "source/customs" in proc.stdout
    # Step 7 through HTTP and the enterprise's own CLI: approve, verify, pause (refused), resume, revoke (refused).
    assert "consent ACTIVE" in proc.stdout and "refused PAUSED" in proc.stdout and "refused REVOKED" in proc.stdout
    assert "rewritten in the database -> detected" in proc.stdout and "head rewritten -> detected" in proc.stdout
    assert "UNEXPECTED" not in proc.stdout
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                 if any(str(tmp_path) in part for part in (p.info["cmdline"] or []))]
    assert not leftovers, f"processes left behind: {leftovers}"
    for log in (tmp_path / "demo" / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(), log.name


SB_JOB = """
[job]
name = "sb"
project = "sandbox"

[parties]
active = "platform/main"
passive = ["source/tax", "source/social_insurance", "source/utilities"]

[psi]
reveal = "both"

[train]
algorithm = "secureboost"
model_name = "it-credit"
n_trees = 3
max_depth = 3
bins = 16
key_bits = 2048
holdout = 0.25

[evaluate]
contributions = true
contribution_trees = 2
"""


@pytest.fixture(scope="module")
def secureboost_run(federation: LocalFederation):
    """One SecureBoost job (Paillier-2048) over the shared federation."""
    return _run(federation, SB_JOB)


def test_secureboost_job_over_processes_trains_publishes_and_records(federation: LocalFederation,
                                                                     secureboost_run) -> None:
    job_id, events, status = secureboost_run
    assert status.state == "SUCCEEDED", status.error
    results = stage_results(status)
    train = results["train"]["platform/main"]
    assert train["trees"] == 3 and train["params"]["encryption"] is True
    assert 0.6 < train["metrics"]["auc_holdout"] <= 1.0
    assert sum(v["splits"] for p, v in train["importance_by_party"].items() if p.startswith("source/")) > 0
    assert any("tree 3/3" in e.message for e in events)
    model_id = results["publish"]["platform/main"]["model_id"]
    for party in ("platform/main", "source/tax", "source/social_insurance", "source/utilities"):
        assert results["publish"][party]["model_id"] == model_id
        folder = federation.state_dir / "nodes" / party.replace("/", "-") / "state" / "models" / model_id
        assert (folder / "part.sha256").exists()
    assert any(f"model {model_id} version 1 recorded" in e.message for e in events)
    evaluation = results["evaluate"]["platform/main"]
    assert set(evaluation["contributions"]) == {"source/tax", "source/social_insurance", "source/utilities"}
    assert all(-1 < c["marginal_auc"] < 1 for c in evaluation["contributions"].values())


def test_distributed_prediction_over_mtls_equals_in_process_prediction(federation: LocalFederation,
                                                                       data_dir: Path, secureboost_run) -> None:
    import uvloop

    from federation.aio_channels import AioPeerChannels
    from federation.grpc_channel import PeerChannels
    from federation.pki import Identity, NodeTls
    from models.secureboost import ActiveModel, FeatureTable, PassiveModel
    from platform_node.scoring.scorer import ScoreFailure, ScoreOutcome
    from platform_node.scoring.secureboost import FederatedSecureBoostScorer, SourceEndpoint
    from tables import load_table
    from tables.features import feature_matrix

    _, _, status = secureboost_run
    assert status.state == "SUCCEEDED", status.error
    model_id = stage_results(status)["publish"]["platform/main"]["model_id"]

    def part(party: str, name: str) -> bytes:
        folder = federation.state_dir / "nodes" / party.replace("/", "-") / "state" / "models" / model_id
        return (folder / name).read_bytes()

    active = ActiveModel.from_bytes(part("platform/main", "secureboost-active.bin"))
    platform = load_table(data_dir / "platform.toml", data_dir / "platform.csv")
    ids = sorted(str(i) for i in platform.ids)[:300]
    with federation.client() as client:
        nodes = {n.party: n for n in client.nodes()}
    tls = NodeTls.load_issued(federation.pki_dir, Identity("platform", "main"))
    channels, aio_channels = PeerChannels(tls), AioPeerChannels(tls)
    scorer = FederatedSecureBoostScorer(
        model_id=model_id, model_version="1", model=active, own_table=platform, label_column="default",
        sources=[SourceEndpoint(p, nodes[p].address, nodes[p].description.tables[0].name) for p in active.parties],
        channels=channels, aio_channels=aio_channels)

    async def on_loop():  # the bank API's single scores: the same fan-out from an event loop
        try:
            return await scorer.score_async(ids[:40], purpose="PRE_LOAN_REVIEW", deadline_s=30,
                                            requester="bank/it-bank")
        finally:
            await aio_channels.aclose()

    try:
        batch = scorer.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=30, requester="bank/it-bank")
        from_loop = uvloop.run(on_loop())
    finally:
        scorer.close()
        channels.close()
    assert from_loop.results == batch.results[:40]

    # The same prediction computed in one process from every party's stored part.
    own = feature_matrix(platform, exclude=["default"], rows=ids)
    masks = {}
    for party in active.parties:
        unit = party.split("/")[1]
        passive = PassiveModel.from_bytes(part(party, "secureboost-passive.bin"))
        table = feature_matrix(load_table(data_dir / f"{unit}.toml", data_dir / f"{unit}.csv"), rows=ids)
        masks[party] = passive.leaf_masks(FeatureTable(table.names, table.values))
    expected = active.predict(FeatureTable(own.names, own.values), masks)
    # What crosses to the platform is leaf bitmaps and a known-bit per id: no feature value of the source.
    from federation.proto import scoring_pb2, scoring_pb2_grpc

    tax = load_table(data_dir / "tax.toml", data_dir / "tax.csv")
    sample = [str(c) for c in tax.ids][:40]
    channels = PeerChannels(tls)
    try:
        stub = scoring_pb2_grpc.PartyScoringStub(channels.get(nodes["source/tax"].address, Identity("source", "tax")))
        reply = stub.LeafMasks(scoring_pb2.MaskRequest(model_id=model_id, ids=sample, institution="bank/it-bank"),
                               timeout=30)
    finally:
        channels.close()
    wire = reply.SerializeToString()
    values = feature_matrix(tax, rows=sample).values
    for v in values[~np.isnan(values)]:
        assert np.float64(v).tobytes() not in wire and np.float32(v).tobytes() not in wire
    width = sum(len(t.bits) for t in reply.masks.trees)
    assert width == sum(len(sample) * ((t.n_leaves + 7) // 8) for t in reply.masks.trees)
    outcomes = [r for r in batch if isinstance(r, ScoreOutcome)]
    assert len(outcomes) == len(ids)
    assert [o.probability_of_default for o in outcomes] == pytest.approx(list(expected), abs=1e-12)
    assert all(set(o.reason_codes) <= {"platform", "tax", "social_insurance", "utilities"} for o in outcomes)
    assert not [r for r in batch if isinstance(r, ScoreFailure)]
    _reasons_name_catalogue_items(federation, outcomes, [PassiveModel.from_bytes(part(p, "secureboost-passive.bin"))
                                                         for p in active.parties])


def _reasons_name_catalogue_items(federation: LocalFederation, outcomes, passives) -> None:
    """Reasons name the catalogue item and its public description for units whose approval grants
    `name_items` (the sandbox's tax and social_insurance), the category only for utilities (not granted);
    raising the risk before lowering it; never a threshold."""
    from platform_node.scoring.scorer import Direction

    described = {f"source/{unit}": {i["name"]: i["description"] for i in federation.catalogue(unit)}
                 for unit in SOURCES}
    thresholds = {f"{r.threshold:g}" for model in passives for r in model.rules.values()} | \
        {repr(r.threshold) for model in passives for r in model.rules.values()}
    named = set()
    for outcome in outcomes:
        assert outcome.reasons and outcome.model_id and outcome.model_version
        directions = [r.direction for r in outcome.reasons]
        assert directions == sorted(directions, key=[Direction.RAISES_RISK, Direction.LOWERS_RISK].index)
        for reason in outcome.reasons:
            if reason.source == "source/utilities":
                assert (reason.item, reason.description) == ("", ""), reason
            elif reason.source.startswith("source/"):
                assert reason.description == described[reason.source][reason.item]
                named.add(reason.source)
            text = f"{reason.item} {reason.description}"
            assert not any(t in text.split() for t in thresholds), reason
    assert named == {"source/tax", "source/social_insurance"}


def test_operator_registers_an_outside_model_and_lists_the_registry(federation: LocalFederation,
                                                                    secureboost_run) -> None:
    from federation.proto import control_pb2

    registration = control_pb2.ModelRegistration(
        model_id="hz-0123456789abcdef", name="banks-common-risk", algorithm="horizontal_logistic",
        parties=["bank/a", "bank/b"], metrics_json='{"holdout_auc": 0.78}', lineage_json='{"model_sha256": "x"}')
    with federation.client() as client:
        entry = client.register_model(registration)
        assert (entry.version, entry.algorithm) == (1, "horizontal_logistic")
        with pytest.raises(Exception, match="ALREADY_EXISTS"):
            client.register_model(registration)
        models = {m.model_id: m for m in client.models()}
    assert "hz-0123456789abcdef" in models
    assert any(m.algorithm == "secureboost" for m in models.values())


def _scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a node's /metrics as {(name, labels): value}."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def _total(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_every_node_serves_metrics_and_readiness_and_one_request_id_crosses_processes(
        federation: LocalFederation, data_dir: Path, secureboost_run) -> None:
    """Issue 20 item 6: each process's /metrics moves with real traffic (scores, source calls, refusals, HE
    operations, audit leaves, jobs), /healthz and /readyz answer, and the id a bank sends with one score is on
    the platform's and every source node's log lines for that request."""
    from datetime import UTC, datetime, timedelta

    import httpx

    from sandbox.demo.bank import onboard

    _, _, status = secureboost_run
    assert status.state == "SUCCEEDED", status.error
    nodes = {"coordinator/main": ("coordinator", "main"), "platform/main": ("platform", "main"),
             **{f"source/{s}": ("source", s) for s in SOURCES}}
    urls = {party: federation.metrics_url(*where) for party, where in nodes.items()}
    for url in urls.values():
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        ready = httpx.get(url + "/readyz", timeout=10)
        assert ready.status_code == 200 and all(ready.json()["checks"].values()), ready.text
    before = {party: _scrape(url) for party, url in urls.items()}
    key = onboard(federation.platform_config, "metrics-bank", "Metrics Bank")
    now = datetime.now(UTC)
    subprocess.run([sys.executable, "-m", "cli.main", "institution", "agreement", "--config",
                    str(federation.platform_config), "bank/metrics-bank", "--scope", "BULK_SCORING", "--reference",
                    "DSA-M", "--not-before", (now - timedelta(days=1)).isoformat(),
                    "--not-after", (now + timedelta(days=1)).isoformat()], check=True, capture_output=True, timeout=60)
    code = sorted(_ids(data_dir / "platform.csv"))[0]
    request_id = "it-metrics-" + os.urandom(6).hex()
    body = {"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "IT-M"}
    with httpx.Client(base_url=federation.api_url, timeout=30) as http:
        scored = http.post("/v1/scores", json=body, headers={"Authorization": f"Bearer {key}",
                                                               "x-request-id": request_id})
        refused = http.post("/v1/scores", json=body, headers={"Authorization": "Bearer xyd.nope"})
        assert http.get("/v1/ready").status_code == 200
    assert scored.status_code == 200, scored.text
    assert scored.headers["x-request-id"] == request_id
    assert refused.status_code == 401 and len(refused.headers["x-request-id"]) == 32  # one made for it
    after = {party: _scrape(url) for party, url in urls.items()}

    def moved(party: str, name: str, **labels: str) -> float:
        return _total(after[party], name, **labels) - _total(before[party], name, **labels)

    assert moved("platform/main", "xyd_http_request_seconds_count", route="/v1/scores", status="200") == 1
    assert moved("platform/main", "xyd_http_refusals_total", code="UNAUTHENTICATED") == 1
    assert moved("platform/main", "xyd_scoring_source_call_seconds_count", outcome="ok") >= len(SOURCES)
    assert moved("platform/main", "xyd_audit_log_leaves", log="platform") >= 1  # the one log: the score is a leaf
    assert _total(after["platform/main"], "xyd_he_operations_total", operation="encrypt") > 0  # training
    assert _total(after["platform/main"], "xyd_he_operations_total", operation="decrypt") > 0
    for source in SOURCES:
        assert moved(f"source/{source}", "xyd_grpc_server_handling_seconds_count",
                     method="/xyd.scoring.PartyScoring/LeafMasks") >= 1
    assert _total(after["coordinator/main"], "xyd_jobs", state="SUCCEEDED") >= 1
    assert _total(after["coordinator/main"], "xyd_stage_duration_seconds_count", stage="train") >= 1

    logs = {m.name: m.log_path.read_text(encoding="utf-8", errors="replace") for m in federation.group.members}
    for party in ("platform/main", *(f"source/{s}" for s in SOURCES)):
        tagged = [line for line in logs[party].splitlines() if request_id in line]
        assert tagged, f"no log line of {party} carries the request id"
        assert all(json.loads(line)["request_id"].split(",").count(request_id) == 1 for line in tagged)


def test_bank_api_single_scores_share_fan_outs_then_name_a_killed_source(federation: LocalFederation,
                                                                         data_dir: Path, secureboost_run,
                                                                         tmp_path: Path) -> None:
    """The platform's real API over the published model: concurrent single scores (fanned out from the API's
    event loop) agree with the batch endpoint (fanned out from a thread); then a source is killed mid-batch
    (a degrade-policy scorer flags every later answer degraded) and the API (refuse) answers 503 naming it.
    Kills a source, so it runs last among the shared federation's tests."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    import httpx

    from sandbox.demo.bank import onboard

    _, _, status = secureboost_run
    assert status.state == "SUCCEEDED", status.error
    model_id = stage_results(status)["publish"]["platform/main"]["model_id"]
    key = onboard(federation.platform_config, "it-bank", "Integration Bank")
    now = datetime.now(UTC)
    subprocess.run([sys.executable, "-m", "cli.main", "institution", "agreement", "--config",
                    str(federation.platform_config), "bank/it-bank", "--scope", "BULK_SCORING", "--reference", "DSA-1",
                    "--not-before", (now - timedelta(days=1)).isoformat(),
                    "--not-after", (now + timedelta(days=1)).isoformat()], check=True, capture_output=True, timeout=60)
    codes = sorted(_ids(data_dir / "platform.csv"))[:24]
    body = {"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "IT-1"}
    with httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        with ThreadPoolExecutor(12) as pool:
            singles = list(pool.map(lambda c: http.post("/v1/scores", json={"credit_code": c, **body}), codes))
        batch = http.post("/v1/scores/batch", json={"credit_codes": codes, **body})
        assert [r.status_code for r in singles] == [200] * len(codes), singles[0].text
        assert batch.status_code == 200, batch.text
        single = [r.json() for r in singles]
        assert {s["model_id"] for s in single} == {model_id}
        assert len({s["use_id"] for s in single}) == len(codes)
        assert len({s["audit"]["leaf_index"] for s in single}) == len(codes)
        by_code = {item["credit_code"]: item for item in batch.json()["items"]}
        described = {i["description"] for unit in SOURCES for i in federation.catalogue(unit)}
        for s in single:  # the API's reasons: catalogue descriptions, with a direction, and the model's version
            assert s["reasons"] and s["model_version"]
            for reason in s["reasons"]:
                assert reason["direction"] in ("raises_risk", "lowers_risk")
                if reason["source"] in ("source/tax", "source/social_insurance"):
                    assert reason["description"] in described
            assert by_code[s["credit_code"]]["reasons"] == \
                [{k: v for k, v in r.items() if v is not None} for r in s["reasons"]]  # the batch omits nulls
        for s in single:
            item = by_code[s["credit_code"]]
            assert (s["probability_of_default"], s["score"], s["grade"]) == \
                (item["probability_of_default"], item["score"], item["grade"])

        [utilities] = [m for m in federation.group.members if m.name == "source/utilities"]
        batches = _batch_across_a_source_outage(federation, data_dir, model_id, tmp_path,
                                                stop=lambda: (utilities.process.kill(), utilities.process.wait(30)))
        refused = http.post("/v1/scores", json={"credit_code": codes[0], **body})
        refused_batch = http.post("/v1/scores/batch", json={"credit_codes": codes[:3], **body})
    # The platform's API keeps the default policy (refuse): no score without every source.
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "SOURCE_UNAVAILABLE"
    assert refused.json()["failed_sources"] == ["source/utilities"]
    assert [i["failure"]["code"] for i in refused_batch.json()["items"]] == ["SOURCE_UNAVAILABLE"] * 3
    batches()


def _batch_across_a_source_outage(federation: LocalFederation, data_dir: Path, model_id: str, tmp_path: Path,
                                  stop):
    """A batch scored in chunks by the platform's SecureBoost scorer under a degrade policy while a source
    is stopped between chunks: before, full scores; after, every answer flagged degraded and equal to the
    prediction with that source's features all missing; a degrade_below purpose under the missing share
    refuses; a fresh scorer (platform restart) degrades from the default masks kept beside the model.
    Returns the checks to run once the caller's own requests are done."""
    from federation.grpc_channel import PeerChannels
    from federation.pki import Identity, NodeTls
    from models.secureboost import ActiveModel, FeatureTable, PassiveModel
    from platform_node.scoring.availability import AvailabilityPolicy
    from platform_node.scoring.scorer import ScoreFailure, ScoreOutcome
    from platform_node.scoring.secureboost import FederatedSecureBoostScorer, SourceEndpoint
    from tables import load_table
    from tables.features import feature_matrix

    def part(party: str, name: str) -> bytes:
        folder = federation.state_dir / "nodes" / party.replace("/", "-") / "state" / "models" / model_id
        return (folder / name).read_bytes()

    active = ActiveModel.from_bytes(part("platform/main", "secureboost-active.bin"))
    platform = load_table(data_dir / "platform.toml", data_dir / "platform.csv")
    ids = sorted(str(i) for i in platform.ids)[:120]
    with federation.client() as client:
        nodes = {n.party: n for n in client.nodes()}
    tls = NodeTls.load_issued(federation.pki_dir, Identity("platform", "main"))
    channels = PeerChannels(tls)
    policy = AvailabilityPolicy.from_mapping({
        "default": "degrade", "LOAN_APPROVAL": {"mode": "degrade_below", "max_missing_importance": 0.001}})

    def scorer() -> FederatedSecureBoostScorer:
        return FederatedSecureBoostScorer(
            model_id=model_id, model_version="1", model=active, own_table=platform, label_column="default",
            sources=[SourceEndpoint(p, nodes[p].address, nodes[p].description.tables[0].name) for p in active.parties],
            channels=channels, availability=policy, defaults_dir=tmp_path)

    first = scorer()
    try:
        chunks = [ids[k:k + 40] for k in range(0, len(ids), 40)]
        results = list(first.score(chunks[0], purpose="PRE_LOAN_REVIEW", deadline_s=30, requester="bank/it-bank"))
        stop()
        for chunk in chunks[1:]:
            results += first.score(chunk, purpose="PRE_LOAN_REVIEW", deadline_s=5, requester="bank/it-bank")
        strict = first.score(ids[:5], purpose="LOAN_APPROVAL", deadline_s=5, requester="bank/it-bank")
        restarted = scorer().score(ids[:40], purpose="POST_LOAN_MONITORING", deadline_s=5, requester="bank/it-bank")
    finally:
        channels.close()

    def checks() -> None:
        assert all(isinstance(r, ScoreOutcome) for r in results), [r for r in results if isinstance(r, ScoreFailure)]
        assert not any(r.degraded for r in results[:40])
        share = first.missing_importance(["source/utilities"])
        assert 0 < share < 1
        for r in results[40:]:  # never a silent full score
            assert r.degraded and r.missing_sources == ("source/utilities",) and r.missing_importance == share
            flagged = [x for x in r.reasons if x.source == "source/utilities"]
            assert [x.direction.value for x in flagged] == ["source_missing"]
        assert [r.code.value for r in strict] == ["SOURCE_UNAVAILABLE"] * 5
        # The degraded answers are the prediction with every utilities feature missing, computed in one process.
        own = feature_matrix(platform, exclude=["default"], rows=ids)
        masks = {}
        for party in active.parties:
            unit = party.split("/")[1]
            passive = PassiveModel.from_bytes(part(party, "secureboost-passive.bin"))
            table = feature_matrix(load_table(data_dir / f"{unit}.toml", data_dir / f"{unit}.csv"), rows=ids)
            values = np.full_like(table.values, np.nan) if party == "source/utilities" else table.values
            masks[party] = passive.leaf_masks(FeatureTable(table.names, values))
        expected = active.predict(FeatureTable(own.names, own.values), masks)
        assert [r.probability_of_default for r in results[40:]] == pytest.approx(list(expected[40:]), abs=1e-12)
        assert [r.probability_of_default for r in restarted] == pytest.approx(list(expected[:40]), abs=1e-12)
        assert all(r.degraded for r in restarted)

    return checks


@pytest.mark.browser
def test_operator_console_shows_nodes_health_job_progress_and_the_models_curves(federation: LocalFederation,
                                                                               secureboost_run) -> None:
    """The operator's pages in a real Chromium over the real platform process: the coordinator's roster with
    each node's gRPC health (the source killed by the test above is UNREACHABLE), the SecureBoost job's stages
    as the platform ran them (tree progress), and the model with the ROC and KS curves the platform kept, the
    distribution of the scores served above, and each source's contribution."""
    from sandbox.demo.bank import onboard
    from tests.browser_support import Visit, chromium, require_chromium

    require_chromium()
    job_id, _, status = secureboost_run
    model_id = stage_results(status)["publish"]["platform/main"]["model_id"]
    assert (federation.node_state("platform", "main") / "models" / model_id / "evaluation.json").exists()
    key = onboard(federation.platform_config, "it-operator", "Integration Operator", role="admin")
    with chromium() as browser:
        visit = Visit(browser, federation.api_url)
        page = visit.page
        visit.log_in(key)
        assert page.url.endswith("/console/operator/nodes")
        rows = {r.split("\t")[0]: r for r in page.locator("table.data tbody tr").all_inner_texts()}
        assert set(rows) == {"coordinator/main", "platform/main", *(f"source/{s}" for s in SOURCES)}
        assert "UNREACHABLE" in rows["source/utilities"]
        assert all("SERVING" in rows[p] for p in rows if p != "source/utilities")
        visit.shoot("30-operator-nodes")
        visit.go("/console/operator/jobs")
        job = page.locator("section", has=page.locator(f"code:text-is('{job_id}')")).inner_text()
        assert "train" in job and "SUCCEEDED" in job and "publish" in job
        visit.shoot("31-operator-jobs")
        visit.go("/console/operator/models")
        assert model_id in page.locator("table.data").inner_text()
        visit.shoot("32-operator-models")
        page.get_by_role("link", name=model_id).first.click()
        page.wait_for_url(f"**/console/operator/models/{model_id}")
        page.wait_for_selector("h1")
        assert page.locator("svg.chart polyline").count() >= 3  # ROC, and the KS curves of both classes
        assert page.locator("section:has(#dist-title) svg.chart rect.bar").count() > 0
        contributions = page.locator("section:has(#contrib-title) table").inner_text()
        assert all(f"source/{s}" in contributions for s in SOURCES)
        visit.shoot("33-operator-model")
        visit.close()


def test_the_sample_psi_job_of_the_docs_runs(federation: LocalFederation) -> None:
    """docs/examples/psi-job.toml, as shipped but for the project the sandbox's units approved, matches the
    platform with two source units."""
    spec = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "psi-job.toml").read_text(encoding="utf-8")
    assert 'project = "credit-2026"' in spec
    spec = spec.replace('project = "credit-2026"', 'project = "sandbox"')
    _, _, status = _run(federation, spec)
    assert status.state == "SUCCEEDED", status.error


def _fuzz_method(method, channels, seen: list) -> None:
    """Hypothesis-generated requests to one method from callers of every role, each answer checked."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.federation import grpc_fuzz

    @settings(max_examples=grpc_fuzz.EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(payload=grpc_fuzz.request_bytes(method.request), caller=st.sampled_from(sorted(channels)))
    def hostile(payload: bytes, caller: str) -> None:
        code, details = grpc_fuzz.call(channels[caller], method, payload)
        seen.append(code)
        grpc_fuzz.check_answer(method, code, details)

    hostile()


def _fuzz_push(address: str, server: str, tls, seen: list) -> None:
    """Random frame streams (headers and chunks with random fields, random bytes, cut frames) to the mailbox."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from federation.chunking import PUSH_METHOD
    from federation.grpc_channel import open_secure_channel
    from federation.pki import Identity
    from federation.proto import transport_pb2
    from tests.federation import grpc_fuzz

    method = grpc_fuzz.Method(PUSH_METHOD, transport_pb2.Frame.DESCRIPTOR, False)

    def bounded(frame: bytes) -> bytes:
        # The receiver allocates a header's announced size up front (up to 4 GiB): announcements are kept at
        # most 1 MiB here so that the fuzzer does not exhaust the shared machine's memory.
        try:
            parsed = transport_pb2.Frame.FromString(frame)
        except Exception:
            return frame
        if parsed.HasField("header") and parsed.header.total_bytes > 1 << 20:
            parsed.header.total_bytes %= 1 << 20
            return parsed.SerializeToString()
        return frame
    with open_secure_channel(address, tls, Identity.parse(server)) as channel:
        @settings(max_examples=grpc_fuzz.EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(frames=st.lists(grpc_fuzz.request_bytes(transport_pb2.Frame.DESCRIPTOR), max_size=5))
        def hostile(frames: list[bytes]) -> None:
            code, details = grpc_fuzz.push(channel, PUSH_METHOD, [bounded(f) for f in frames])
            seen.append(code)
            grpc_fuzz.check_answer(method, code, details, translated_only=False)

        hostile()


def test_hostile_grpc_requests_get_a_status_with_public_text_from_every_server(federation: LocalFederation) -> None:
    """Issue 20 item 4: random, well-typed-but-random, truncated and oversized requests to every unary method of
    the coordinator, the platform (consent registry, node) and a source node (scoring shares, verification,
    witness, node), from callers of every role, are each answered with a gRPC status whose text is public
    (tests/federation/grpc_fuzz.py has the rule). Runs last: it may register odd nodes with the coordinator."""
    import grpc

    from federation.grpc_channel import open_secure_channel, secure_channel_settings
    from federation.pki import CertificateAuthority, Identity, NodeTls
    from federation.proto import control_pb2, scoring_pb2, verification_pb2
    from tests.federation import grpc_fuzz

    ca = CertificateAuthority.load(federation.pki_dir)
    callers = {name: ca.issue(Identity.parse(name)) for name in ("admin/fuzz", "bank/fuzz", "source/fuzz")}
    for name in ("platform/main", "coordinator/main"):
        callers[name] = NodeTls.load_issued(federation.pki_dir, Identity.parse(name))
    tax = (federation.node_state("source", "tax") / "address").read_text(encoding="utf-8").strip()
    node = grpc_fuzz.methods_of(control_pb2.DESCRIPTOR, "Node", skip=frozenset({"RunTask"}))
    servers = {
        ("coordinator/main", federation.coordinator_address): grpc_fuzz.methods_of(control_pb2.DESCRIPTOR,
                                                                                  "Coordinator"),
        ("platform/main", federation.platform_address): [
            *grpc_fuzz.methods_of(verification_pb2.DESCRIPTOR, "ConsentRegistry"), *node],
        ("source/tax", tax): [*grpc_fuzz.methods_of(scoring_pb2.DESCRIPTOR, "PartyScoring"),
                              *grpc_fuzz.methods_of(verification_pb2.DESCRIPTOR, "Verification"),
                              *grpc_fuzz.methods_of(verification_pb2.DESCRIPTOR, "Witness"), *node],
    }
    seen: list[grpc.StatusCode] = []
    for (server, address), methods in servers.items():
        channels = {name: open_secure_channel(address, tls, Identity.parse(server)) for name, tls in callers.items()}
        try:
            for method in methods:
                _fuzz_method(method, channels, seen)
            _fuzz_push(address, server, callers["source/fuzz"], seen)
            # Over the 16 MiB message limit: refused before any servicer code runs, by the call guard (a role
            # the method does not admit) or by gRPC's size limit (a role it admits).
            codes = set()
            for tls in callers.values():
                credentials, options = secure_channel_settings(tls, Identity.parse(server))
                options = [o for o in options if o[0] != "grpc.max_send_message_length"]
                with grpc.secure_channel(address, credentials,
                                         options=[*options, ("grpc.max_send_message_length", -1)]) as unlimited:
                    code, details = grpc_fuzz.call(unlimited, methods[0],
                                                   b"\x0a\xff\xff\xff\x08" + b"x" * (17 << 20))
                grpc_fuzz.check_answer(methods[0], code, details)
                codes.add(code)
            assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes, codes
            assert codes <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.PERMISSION_DENIED}, codes
        finally:
            for channel in channels.values():
                channel.close()
    # Not vacuous: the requests reached the servicers' own checks, not only gRPC's parser and the admission.
    assert {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED} <= set(seen)
    alive = {m.name: m.process.poll() is None for m in federation.group.members}
    assert all(alive[name] for name in ("coordinator/main", "platform/main", "source/tax")), alive  # none died
