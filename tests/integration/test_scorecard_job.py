"""Scorecard and vertical-LR jobs over real processes: WOE binning, LR with the coordinator as arbiter,
evaluation, publication, and points-based scoring over mTLS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.operator_client import stage_results
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

SOURCES = ("tax", "social_insurance")
PARTIES = ("platform/main", *(f"source/{s}" for s in SOURCES))


def _job(algorithm: str, extra: str = "") -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "{algorithm}"\nproject = "sandbox"\n[parties]\nactive = "platform/main"\npassive = [{passive}]\n'
            f'[psi]\nreveal = "both"\n[train]\nalgorithm = "{algorithm}"\nmodel_name = "it-{algorithm}"\n'
            f'key_bits = 1024\nholdout = 0.25\nepochs = 8\nbatch_size = 512\n'
            f'learning_rate = 0.5\n{extra}')


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(1200, 5, out)
    return out


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    fed = LocalFederation(tmp_path_factory.mktemp("fed") / "state",
                          NodeData(data_dir / "platform.toml", data_dir / "platform.csv"),
                          {s: NodeData(data_dir / f"{s}.toml", data_dir / f"{s}.csv") for s in SOURCES},
                          node_policy={"allow_insecure_keys_for_tests": True}, with_api=False,
                          source_scoring={"precomputed": True})
    with fed:
        yield fed
    for member in fed.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


def _run(fed: LocalFederation, spec: str):
    with fed.client() as client:
        job_id = client.submit(spec)
        events = list(client.watch(job_id, timeout=120))
        return job_id, events, client.status(job_id)


@pytest.fixture(scope="module")
def scorecard_run(federation: LocalFederation):
    return _run(federation, _job("scorecard", "[binning]\nbins = 8\nmin_iv = 0.01\n"))


def _part_folder(fed: LocalFederation, party: str, model_id: str) -> Path:
    return fed.state_dir / "nodes" / party.replace("/", "-") / "state" / "models" / model_id


def test_scorecard_job_bins_trains_evaluates_and_publishes(federation: LocalFederation, scorecard_run) -> None:
    job_id, events, status = scorecard_run
    assert status.state == "SUCCEEDED", status.error
    results = stage_results(status)
    assert set(results) == {"psi", "binning", "train", "evaluate", "publish"}
    metrics = results["evaluate"]["platform/main"]["metrics"]
    assert 0.6 < metrics["auc_holdout"] <= 1.0
    assert metrics["gini_holdout"] == pytest.approx(2 * metrics["auc_holdout"] - 1, abs=1e-4)
    assert 0 <= metrics["ks_holdout"] <= 1 and metrics["psi_holdout"] >= 0
    assert results["train"]["coordinator/main"]["arbiter_epochs"] == results["train"]["platform/main"]["epochs"]
    # IV ranking: the platform sees its own names and opaque ids of the sources' variables.
    ranking = results["evaluate"]["platform/main"]["iv_ranking"]
    assert all(("#" in r["variable"]) != r["own"] for r in ranking)
    own_names = set(pd.read_csv(federation.platform_data.table, nrows=1).columns)
    assert {r["variable"] for r in ranking if r["own"]} <= own_names
    model_id = results["publish"]["platform/main"]["model_id"]
    for party in PARTIES:
        assert results["publish"][party]["model_id"] == model_id
        assert (_part_folder(federation, party, model_id) / "part.sha256").exists()
    assert any(f"model {model_id} version 1 recorded" in e.message for e in events)


def test_points_scoring_over_mtls_equals_in_process_scoring_of_stored_parts(
        federation: LocalFederation, data_dir: Path, scorecard_run) -> None:
    from federation.grpc_channel import PeerChannels
    from federation.pki import Identity, NodeTls
    from models.scorecard.stored import party_scorecard, placeable, read_part, scaling
    from platform_node.scoring.scorecard import FederatedScorecardScorer
    from platform_node.scoring.scorer import ScoreFailure, ScoreOutcome
    from platform_node.scoring.secureboost import SourceEndpoint
    from tables import load_table
    from tables.features import feature_matrix

    _, _, status = scorecard_run
    assert status.state == "SUCCEEDED", status.error
    model_id = stage_results(status)["publish"]["platform/main"]["model_id"]
    platform_part = read_part(_part_folder(federation, "platform/main", model_id) / "scorecard-part.bin")
    assert sorted(platform_part.hosts) == sorted(PARTIES[1:])
    platform = load_table(data_dir / "platform.toml", data_dir / "platform.csv")
    ids = sorted(str(i) for i in platform.ids)[:300] + ["91000000UNKNOWN000"]
    with federation.client() as client:
        nodes = {n.party: n for n in client.nodes()}
    channels = PeerChannels(NodeTls.load_issued(federation.pki_dir, Identity("platform", "main")))
    scorer = FederatedScorecardScorer(
        model_id=model_id, model_version="1", part=platform_part, own_table=platform, label_column="default",
        sources=[SourceEndpoint(p, nodes[p].address, p.split("/")[1]) for p in PARTIES[1:]], channels=channels)
    try:
        batch = scorer.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=30, requester="bank/it-bank")
    finally:
        scorer.close()
        channels.close()

    # The same scores computed in one process from every party's stored points table.
    def points(party: str, table, exclude=()) -> np.ndarray:
        card = party_scorecard(read_part(_part_folder(federation, party, model_id) / "scorecard-part.bin"))
        matrix = feature_matrix(table, exclude=exclude, rows=ids[:-1])
        columns = {n: matrix.values[:, k] for k, n in enumerate(matrix.names)}
        return card.score(placeable(card, columns)).points

    total = platform_part.base_points + points("platform/main", platform, ["default"])
    for unit in SOURCES:
        total = total + points(f"source/{unit}", load_table(data_dir / f"{unit}.toml", data_dir / f"{unit}.csv"))
    card = scaling(platform_part)
    outcomes = [r for r in batch if isinstance(r, ScoreOutcome)]
    assert [o.credit_code for o in outcomes] == ids[:-1]
    assert [o.probability_of_default for o in outcomes] == pytest.approx(
        [card.probability_of_default(t) for t in total], abs=1e-12)
    assert [o.score for o in outcomes] == [int(round(t)) for t in total]
    assert all(len(o.reason_codes) <= 4 for o in outcomes) and any(o.reason_codes for o in outcomes)
    own_names = set(platform.frame.columns)
    assert all(set(o.reason_codes) <= own_names | {"tax", "social_insurance"} | _categories(data_dir)
               for o in outcomes)
    unknown = batch.results[-1]
    assert isinstance(unknown, ScoreFailure) and unknown.code.name == "UNKNOWN_ENTERPRISE"

    # The bank API's scorer follows the latest published model: this scorecard, located via the coordinator.
    import uvloop

    from platform_node.scoring.published import PublishedModelScorer

    published = PublishedModelScorer(
        models_dir=federation.state_dir / "nodes" / "platform-main" / "state" / "models", own_table=platform,
        label_column="default", tls=NodeTls.load_issued(federation.pki_dir, Identity("platform", "main")),
        coordinator=federation.coordinator_address)

    async def on_loop():  # the bank API's single scores: loaded in a worker thread, fanned out on the loop
        try:
            return await published.score_async(ids[:50], purpose="PRE_LOAN_REVIEW", deadline_s=30,
                                               requester="bank/it-bank")
        finally:
            await published.aclose()

    try:
        via_api = [r for r in published.score(ids[:50], purpose="PRE_LOAN_REVIEW", deadline_s=30,
                                              requester="bank/it-bank")]
        from_loop = uvloop.run(on_loop())
    finally:
        published.close()
    assert [(r.model_id, r.score, r.reason_codes) for r in via_api] == \
        [(model_id, o.score, o.reason_codes) for o in outcomes[:50]]
    assert from_loop.results == tuple(via_api)


def test_points_in_precomputed_and_cover_modes_equal_direct_with_each_source_snapshot(
        federation: LocalFederation, data_dir: Path, scorecard_run, tmp_path: Path) -> None:
    """Private queries with a scorecard (docs/protocols/private-scoring.md): the same scores as direct queries,
    each stating one snapshot per party."""
    from federation.grpc_channel import PeerChannels
    from federation.pki import Identity, NodeTls
    from models.scorecard.stored import read_part
    from platform_node.scoring.privacy import PrivacyMode, PrivacySettings
    from platform_node.scoring.scorecard import FederatedScorecardScorer
    from platform_node.scoring.secureboost import SourceEndpoint
    from tables import load_table

    _, _, status = scorecard_run
    model_id = stage_results(status)["publish"]["platform/main"]["model_id"]
    part = read_part(_part_folder(federation, "platform/main", model_id) / "scorecard-part.bin")
    platform = load_table(data_dir / "platform.toml", data_dir / "platform.csv")
    ids = sorted(str(i) for i in platform.ids)[:100] + ["91000000UNKNOWN000"]
    with federation.client() as client:
        nodes = {n.party: n for n in client.nodes()}
    channels = PeerChannels(NodeTls.load_issued(federation.pki_dir, Identity("platform", "main")))
    answers = {}
    try:
        for mode in PrivacyMode:
            scorer = FederatedScorecardScorer(
                model_id=model_id, model_version="1", part=part, own_table=platform, label_column="default",
                sources=[SourceEndpoint(p, nodes[p].address, p.split("/")[1]) for p in PARTIES[1:]],
                channels=channels, privacy=PrivacySettings(mode=mode, refresh_s=3600), stats_dir=tmp_path)
            try:
                answers[mode] = scorer.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=30,
                                             requester="bank/it-bank")
            finally:
                scorer.close()
    finally:
        channels.close()
    direct = answers[PrivacyMode.DIRECT]
    assert len(direct.outcomes()) == len(ids) - 1
    for mode in (PrivacyMode.PRECOMPUTED, PrivacyMode.COVER):
        assert answers[mode].results == direct.results, mode
    for outcome in direct.outcomes():
        assert {p for p, _ in outcome.snapshots} == set(PARTIES)


def _categories(data_dir: Path) -> set[str]:
    import tomllib

    out = set()
    for unit in SOURCES:
        schema = tomllib.loads((data_dir / f"{unit}.toml").read_text())
        out |= {c.get("category", "") for c in schema.get("columns", [])}
    return out


def test_hetero_lr_job_with_the_coordinator_as_arbiter(federation: LocalFederation) -> None:
    job_id, events, status = _run(federation, _job("hetero_lr"))
    assert status.state == "SUCCEEDED", status.error
    results = stage_results(status)
    assert set(results) == {"psi", "train", "evaluate", "publish"}  # no woe: no binning stage
    train = results["train"]["platform/main"]
    assert train["params"]["encrypted"] is True and train["epochs"] >= 1
    assert results["train"]["coordinator/main"]["arbiter_epochs"] == train["epochs"]
    assert 0.6 < train["metrics"]["auc_holdout"] <= 1.0
    model_id = results["publish"]["platform/main"]["model_id"]
    assert model_id == f"lr-{job_id}"
    for party in PARTIES:
        assert (_part_folder(federation, party, model_id) / "hetero-lr-part.bin").exists()
