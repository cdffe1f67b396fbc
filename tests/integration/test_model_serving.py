"""Every joint model served through the bank API over real processes: vertical LR (raw and WOE) beside
SecureBoost and the scorecard via `POST /v1/scores` and the batch endpoint, chosen by id or by the platform's
per-purpose default; a challenger scored in the shadow and reported; a source stopped between batches gives
answers flagged degraded (LR and the scorecard at that source's training mean), never a silent full score."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from cli.operator_client import stage_results
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

pytestmark = pytest.mark.slow

SOURCES = ("tax", "utilities")  # tax's approval lets reasons name its items, utilities' does not
PLATFORM = "platform/main"
STOPPED = "source/utilities"


def _job(algorithm: str, extra: str = "") -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "{algorithm}"\nproject = "sandbox"\n[parties]\nactive = "{PLATFORM}"\n'
            f'passive = [{passive}]\n[psi]\nreveal = "both"\n[train]\nalgorithm = "{algorithm}"\n'
            f'model_name = "serve-{algorithm}"\nkey_bits = 1024\nholdout = 0.25\n{extra}')


LR = "epochs = 8\nbatch_size = 512\nlearning_rate = 0.5\n"
JOBS = {
    "lr_raw": _job("hetero_lr", LR),
    "lr_woe": _job("hetero_lr", LR + "woe = true\n[binning]\nbins = 8\nmin_iv = 0.01\n"),
    "scorecard": _job("scorecard", LR + "[binning]\nbins = 8\nmin_iv = 0.01\n"),
    "secureboost": _job("secureboost", "n_trees = 2\nmax_depth = 3\nbins = 16\n"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(1000, 7, out)
    return out


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    fed = LocalFederation(tmp_path_factory.mktemp("fed") / "state",
                          NodeData(data_dir / "platform.toml", data_dir / "platform.csv"),
                          {s: NodeData(data_dir / f"{s}.toml", data_dir / f"{s}.csv") for s in SOURCES},
                          node_policy={"allow_insecure_keys_for_tests": True})
    with fed:
        yield fed
    for member in fed.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


@pytest.fixture(scope="module")
def models(federation: LocalFederation) -> dict[str, str]:
    """The model id each job published."""
    out = {}
    with federation.client() as client:
        for kind, spec in JOBS.items():
            job_id = client.submit(spec)
            list(client.watch(job_id, timeout=180))
            status = client.status(job_id)
            assert status.state == "SUCCEEDED", (kind, status.error)
            out[kind] = stage_results(status)["publish"][PLATFORM]["model_id"]
    return out


def _folder(fed: LocalFederation, party: str, model_id: str) -> Path:
    return fed.state_dir / "nodes" / party.replace("/", "-") / "state" / "models" / model_id


def _expected_margin(fed: LocalFederation, data_dir: Path, model_id: str, ids: list[str],
                     at_mean: tuple[str, ...] = ()) -> np.ndarray:
    """The LR's log-odds computed in one process from every party's stored part; parties in `at_mean` at their
    training mean."""
    from models.scorecard.stored import lr_features, read_part
    from tables import load_table
    from tables.features import FeatureIndex

    total = np.zeros(len(ids))
    for party, unit in ((PLATFORM, "platform"), *((f"source/{s}", s) for s in SOURCES)):
        part = read_part(_folder(fed, party, model_id) / "hetero-lr-part.bin", "hetero_lr")
        if party in at_mean:
            total += sum(part.training_means)
            continue
        table = load_table(data_dir / f"{unit}.toml", data_dir / f"{unit}.csv")
        rows = FeatureIndex(table, exclude=["default"] if unit == "platform" else []).rows(ids)
        x = lr_features(part, {n: rows.values[:, k] for k, n in enumerate(rows.names)})
        total += x @ np.asarray(part.lr.weights) + (part.lr.intercept if part.lr.has_intercept else 0.0)
    return total


def _expected_points(fed: LocalFederation, data_dir: Path, model_id: str, ids: list[str],
                     at_mean: tuple[str, ...]) -> np.ndarray:
    from models.scorecard.stored import party_scorecard, placeable, read_part
    from tables import load_table
    from tables.features import feature_matrix

    platform_part = read_part(_folder(fed, PLATFORM, model_id) / "scorecard-part.bin")
    total = np.full(len(ids), platform_part.base_points)
    for party, unit in ((PLATFORM, "platform"), *((f"source/{s}", s) for s in SOURCES)):
        part = read_part(_folder(fed, party, model_id) / "scorecard-part.bin")
        if party in at_mean:
            total += sum(part.training_means)
            continue
        card = party_scorecard(part)
        table = load_table(data_dir / f"{unit}.toml", data_dir / f"{unit}.csv")
        matrix = feature_matrix(table, exclude=["default"] if unit == "platform" else [], rows=ids)
        total += card.score(placeable(card, {n: matrix.values[:, k] for k, n in enumerate(matrix.names)})).points
    return total


def _bank(fed: LocalFederation) -> dict[str, str]:
    import subprocess
    import sys

    from sandbox.demo.bank import onboard

    key = onboard(fed.platform_config, "serve-bank", "Serving Bank", limits=(1000, 1000, 100_000))
    now = datetime.now(UTC)
    subprocess.run([sys.executable, "-m", "cli.main", "institution", "agreement", "--config",
                    str(fed.platform_config), "bank/serve-bank", "--scope", "BULK_SCORING", "--reference", "DSA-1",
                    "--not-before", (now - timedelta(days=1)).isoformat(),
                    "--not-after", (now + timedelta(days=1)).isoformat()], check=True, capture_output=True, timeout=60)
    compliance = onboard(fed.platform_config, "serve-audit", "Serving Audit", role="compliance")
    return {"bank": key, "compliance": compliance}


def test_every_model_is_served_chosen_shadowed_and_degrades_when_a_source_stops(
        federation: LocalFederation, data_dir: Path, models: dict[str, str]) -> None:
    keys = _bank(federation)
    frame = pd.read_csv(data_dir / "platform.csv", dtype={"credit_code": str})
    labels = dict(zip(frame["credit_code"], frame["default"], strict=True))
    codes = sorted(labels)[:30]
    described = {i["description"] for i in federation.catalogue("tax")}
    body = {"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "SERVE-1"}
    bank = httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {keys['bank']}"},
                        timeout=60)
    with bank:
        # 1. Each model by id, single and batch, the same answers.
        for kind, model_id in models.items():
            singles = [bank.post("/v1/scores", json={"credit_code": c, "model_id": model_id, **body})
                       for c in codes[:6]]
            assert [r.status_code for r in singles] == [200] * 6, (kind, singles[0].text)
            batch = bank.post("/v1/scores/batch", json={"credit_codes": codes, "model_id": model_id, **body})
            assert batch.status_code == 200, (kind, batch.text)
            items = {i["credit_code"]: i for i in batch.json()["items"]}
            assert batch.json()["model_id"] == model_id and all(i["status"] == "SCORED" for i in items.values())
            for s in (r.json() for r in singles):
                assert s["model_id"] == model_id and not s["degraded"]
                item = items[s["credit_code"]]
                assert (s["probability_of_default"], s["score"], s["grade"]) == \
                    (item["probability_of_default"], item["score"], item["grade"])
            if kind.startswith("lr"):  # the sigmoid of every party's part, as one process computes it
                margin = _expected_margin(federation, data_dir, model_id, codes)
                assert [items[c]["probability_of_default"] for c in codes] == \
                    pytest.approx([1 / (1 + math.exp(-m)) for m in margin], abs=1e-9)
                reasons = [r for c in codes for r in items[c]["reasons"]]
                assert reasons and {r["direction"] for r in reasons} <= {"raises_risk", "lowers_risk"}
                assert {r["source"] for r in reasons} <= {PLATFORM, "source/tax", STOPPED}
                assert any(r["source"] == "source/tax" and r.get("description") in described for r in reasons)
                assert all("item" not in r and "description" not in r for r in reasons if r["source"] == STOPPED)
        unknown = bank.post("/v1/scores", json={"credit_code": codes[0], "model_id": "lr-no-such-job", **body})
        assert unknown.status_code == 503 and unknown.json()["code"] == "MODEL_UNAVAILABLE", unknown.text
        assert "lr-no-such-job" not in unknown.text

        # 2. The platform's configuration: defaults per purpose, a challenger, degrade when a source is missing.
        federation.api_tables = "\n".join([
            "[api.models]", f'default = "{models["secureboost"]}"', f'PRE_LOAN_REVIEW = "{models["lr_woe"]}"',
            "[api.models.challengers]", f'PRE_LOAN_REVIEW = "{models["scorecard"]}"',
            "[api.availability]", 'default = "degrade"',
            'LOAN_APPROVAL = { mode = "degrade_below", max_missing_importance = 0.0001 }'])
        federation.kill(PLATFORM)
        federation.restart(PLATFORM)
    bank = httpx.Client(base_url=federation.api_url, headers={"Authorization": f"Bearer {keys['bank']}"},
                        timeout=60)
    compliance = httpx.Client(base_url=federation.api_url,
                              headers={"Authorization": f"Bearer {keys['compliance']}"}, timeout=60)
    with bank, compliance:
        listed = {m["model_id"]: m for m in bank.get("/v1/models").json()["items"]}
        assert {k: listed[m]["algorithm"] for k, m in models.items()} == {
            "lr_raw": "hetero_lr", "lr_woe": "hetero_lr_woe", "scorecard": "scorecard", "secureboost": "secureboost"}
        assert listed[models["secureboost"]]["default"] and listed[models["lr_woe"]]["purposes"] == ["PRE_LOAN_REVIEW"]
        chosen = bank.post("/v1/scores", json={"credit_code": codes[0], **body}).json()
        assert chosen["model_id"] == models["lr_woe"]
        other = bank.post("/v1/scores", json={"credit_code": codes[0], "purpose": "POST_LOAN_MONITORING",
                                              "loan_application_ref": "SERVE-2"}).json()
        assert other["model_id"] == models["secureboost"]
        # Shadow scoring: ten defaulted and ten repaid enterprises, then their outcomes.
        defaulted = [c for c in sorted(labels) if labels[c] == 1][:10]
        repaid = [c for c in sorted(labels) if labels[c] == 0][:10]
        shadowed = bank.post("/v1/scores/batch", json={"credit_codes": defaulted + repaid, **body}).json()
        assert shadowed["model_id"] == models["lr_woe"]  # the champion's answer, never the challenger's
        for item in shadowed["items"]:
            use = item["use_id"]
            assert bank.post(f"/v1/uses/{use}/feedback", json={
                "type": "decision", "decision": "GRANTED", "amount_cny": "100000.00", "annual_rate": "0.04",
                "term_months": 12}).status_code == 201
            outcome = "DEFAULT" if labels[item["credit_code"]] == 1 else "ON_TIME"
            assert bank.post(f"/v1/uses/{use}/feedback",
                             json={"type": "repayment", "outcome": outcome}).status_code == 201
        report = _report(compliance, models["scorecard"], expected=21)
        assert report["champion_models"] == [models["lr_woe"]] and report["challenger_scored"] == 21
        assert 0 <= report["grade_agreement"] <= 1 and report["with_outcome"] == 20
        assert 0 <= report["champion_auc"] <= 1 and 0 <= report["challenger_auc"] <= 1
        assert report["champion_scores"]["min"] <= report["champion_scores"]["p50"] <= report["champion_scores"]["max"]
        assert bank.get(f"/v1/models/{models['scorecard']}/challenger-report").status_code == 403

        # 3. A source stops between batches: every later answer is degraded (LR and scorecard at its training
        # mean), never a silent full score; a purpose that degrades only below a tiny share refuses.
        before = {kind: bank.post("/v1/scores/batch", json={"credit_codes": codes[:10], "model_id": models[kind],
                                                            **body}).json() for kind in models}
        assert all(not i["degraded"] for b in before.values() for i in b["items"]), before
        federation.kill(STOPPED)
        after = {kind: bank.post("/v1/scores/batch", json={"credit_codes": codes[10:], "model_id": models[kind],
                                                           **body}).json() for kind in models}
        for kind, batch in after.items():
            for item in batch["items"]:
                assert item["status"] == "SCORED" and item["degraded"], (kind, item)
                assert item["missing_sources"] == [STOPPED] and 0 <= item["missing_importance"] < 1
                # LR and scorecard: the share of the parties' training spreads (SecureBoost: of the split gain,
                # which may be 0 for a source none of whose splits the trees use)
                assert kind == "secureboost" or item["missing_importance"] > 0
                assert [r["direction"] for r in item["reasons"] if r["source"] == STOPPED] == ["source_missing"]
        rest = codes[10:]
        for kind in ("lr_raw", "lr_woe"):
            margin = _expected_margin(federation, data_dir, models[kind], rest, at_mean=(STOPPED,))
            assert [i["probability_of_default"] for i in after[kind]["items"]] == \
                pytest.approx([1 / (1 + math.exp(-m)) for m in margin], abs=1e-9)
        points = _expected_points(federation, data_dir, models["scorecard"], rest, at_mean=(STOPPED,))
        assert [i["score"] for i in after["scorecard"]["items"]] == [int(round(p)) for p in points]
        strict = bank.post("/v1/scores/batch", json={"credit_codes": codes[:3], "model_id": models["lr_raw"],
                                                     "purpose": "LOAN_APPROVAL", "loan_application_ref": "S-3"})
        assert [i["failure"]["code"] for i in strict.json()["items"]] == ["SOURCE_UNAVAILABLE"] * 3
        single = bank.post("/v1/scores", json={"credit_code": codes[0], "model_id": models["scorecard"], **body})
        assert single.status_code == 200 and single.json()["degraded"] is True


def _report(http: httpx.Client, model_id: str, *, expected: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        answer = http.get(f"/v1/models/{model_id}/challenger-report")
        if answer.status_code == 200 and answer.json()["shadowed"] >= expected:
            return answer.json()
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)
