"""Private queries and snapshot consistency for a published vertical LR (issue 22 items 3 and 5), over real
mTLS gRPC to a governed source whose approval lets reasons name its items:

* precomputed: the source's partial scores come from its `Decisions` table, scores (PD, score, grade, reasons,
  snapshots) equal the direct mode's, and the source receives no request carrying a scored id or any digest
  of one: what it receives is the same whichever enterprises are scored;
* cover: scores equal direct; every request the source receives holds the real enterprise inside its whole
  group, in the same form as the decoys, at a uniformly distributed position (chi-square, fixed seed);
* a data refresh at the source in the middle of scoring never mixes two snapshots into one score.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from consent.governance import Quotas, Serving
from federation.grpc_channel import PeerChannels
from federation.pki import CertificateAuthority, Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc
from federation.server import NodeServer
from models.hetero_lr import LrModel
from models.scorecard.stored import lr_part, record_training_stats, scaling_of, standardised, write_part
from platform_node.scoring.linear import FederatedLrScorer
from platform_node.scoring.precomputed import read_table
from platform_node.scoring.privacy import PrivacyMode, PrivacySettings
from platform_node.scoring.scorer import FailureCode, ScoreFailure, ScoreOutcome
from platform_node.scoring.source_fanout import ReplyRefused, SourceEndpoint
from sandbox.synthdata import generate
from source_node.scoring import PartyScoringServicer
from source_node.scoring_settings import ScoringSettings
from tables import LoadedTable, load_table
from tables.features import FeatureIndex, feature_matrix
from tests.consent.governance_world import T0
from tests.platform_node.scoring.test_private_scoring import Recording, _derivatives
from tests.source_node.governed_job import (
    NOT_SHARED,
    PLATFORM,
    TAX,
    UNAPPROVED,
    GovernedSource,
    approval_terms,
    load_tax,
)

BANK = "bank/icbc-sz"
MODEL = "lr-job-1"
PURPOSE = "PRE_LOAN_REVIEW"


def _part(table: LoadedTable, party: str, names: list[str], weights: np.ndarray, *, guest: bool):
    """A published LR part over `names` of `table`, standardised, with its training aggregates."""
    matrix = feature_matrix(table)
    columns = {n: matrix.values[:, matrix.names.index(n)] for n in names}
    scalers = scaling_of(columns)
    model = LrModel(tuple(names), weights, -1.2 if guest else 0.0)
    return record_training_stats(lr_part(party, model, scalers, guest=guest, on_woe=False), model,
                                 standardised(columns, scalers))


class World:
    def __init__(self, folder: Path) -> None:
        generate(200, 5, folder / "data")
        self.folder = folder
        self.source = GovernedSource(load_tax(folder / "data"), folder / "gov")
        self.platform = load_table(folder / "data" / "platform.toml", folder / "data" / "platform.csv")
        rng = np.random.default_rng(3)
        tax_names = [n for n in feature_matrix(self.source.table).names if n not in (NOT_SHARED, UNAPPROVED)][:4]
        self.approval_id = self.source.approve(approval_terms(
            tuple(tax_names), algorithms={"psi": 0, "hetero_lr": 0},
            serving=Serving(online=True, institutions=(BANK,), name_items=True), quotas=Quotas(10**9, 10**9),
            not_after=T0 + timedelta(days=3650)))
        models = folder / "source-models"
        write_part(models / MODEL / "hetero-lr-part.bin",
                   _part(self.source.table, TAX, tax_names, rng.normal(size=len(tax_names)), guest=False))
        (models / MODEL / "approval.json").write_text(json.dumps({"approval_id": self.approval_id,
                                                                  "algorithm": "hetero_lr"}))
        own_names = list(FeatureIndex(self.platform, exclude=["default"]).rows([]).names)[:3]
        self.part = _part(self.platform, PLATFORM, own_names, rng.normal(size=len(own_names)), guest=True)
        self.part.hosts.append(TAX)
        self.servicer = PartyScoringServicer(self.source.table, models, self.source.governance,
                                             ScoringSettings(precomputed=True))
        self.recording = Recording(self.servicer)
        ca = CertificateAuthority.create(folder / "pki")
        self.server = NodeServer(ca.issue(Identity.parse(TAX)))
        self.server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, self.recording)
        self.server.start()
        self.channels = PeerChannels(ca.issue(Identity.parse(PLATFORM)))
        # The platform's enterprises (some the source does not hold) and one nobody holds.
        self.ids = [str(i) for i in self.platform.ids]
        self.held = {str(i) for i in self.source.table.ids}

    def scorer(self, mode: PrivacyMode, folder: str) -> FederatedLrScorer:
        (self.folder / folder).mkdir(exist_ok=True)
        return FederatedLrScorer(model_id=MODEL, model_version="v1", part=self.part, own_table=self.platform,
                                 label_column="default", sources=[SourceEndpoint(TAX, self.server.address, "tax")],
                                 channels=self.channels, stats_dir=self.folder / folder,
                                 privacy=PrivacySettings(mode=mode, cover_k=4, refresh_s=3600))

    def close(self) -> None:
        self.channels.close()
        self.server.stop(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = World(tmp_path_factory.mktemp("private-linear"))
    try:
        yield built
    finally:
        built.close()


def _score(scorer: FederatedLrScorer, ids: list[str]):
    return scorer.score(ids, purpose=PURPOSE, deadline_s=10, requester=BANK)


def test_precomputed_lr_scores_equal_direct_and_no_request_to_the_source_carries_a_scored_id(world: World) -> None:
    ids = world.ids[:40] + ["91330100000000000X"]  # the last one nobody holds
    assert any(c not in world.held for c in ids[:40]) and any(c in world.held for c in ids[:40])
    direct = world.scorer(PrivacyMode.DIRECT, "direct")
    expected = _score(direct, ids)
    assert [m for m, _, _ in world.recording.clear()] == ["LinearScores"]
    precomputed = world.scorer(PrivacyMode.PRECOMPUTED, "precomputed")
    try:
        fetched = world.recording.clear()  # the table's fetch: before any score
        first = _score(precomputed, ids)
        second = _score(precomputed, world.ids[100:140])
        assert world.recording.clear() == []  # scoring asked the source nothing at all
        precomputed.tables.refresh_all()  # a scheduled refresh after scoring: the same request as before any
        refreshed = world.recording.clear()
        table = precomputed.tables.current(TAX)
    finally:
        precomputed.close()
    assert table is not None and table.rows.n_rows == len(world.source.table)
    # The same outcomes: PD, score, grade, reasons (items named by the source), snapshots, failures.
    assert first.results == expected.results
    assert isinstance(first.results[-1], ScoreFailure) and first.results[-1].code is FailureCode.UNKNOWN_ENTERPRISE
    assert any(r.item for o in first.outcomes() for r in o.reasons if r.source == TAX)
    assert all(isinstance(r, ScoreOutcome) for r in second)
    assert [m for m, _, _ in fetched] == ["Decisions"] and [m for m, _, _ in refreshed] == ["Decisions"]
    request = scoring_pb2.DecisionsRequest.FromString(fetched[0][1])
    assert request.model_id == MODEL and request.have_snapshot == ""
    assert scoring_pb2.DecisionsRequest.FromString(refreshed[0][1]).model_id == MODEL
    # No scored id, nor any digest of one, in any message or its metadata.
    wire = b"".join(body + repr(meta).encode() for _, body, meta in fetched + refreshed)
    for code in ids + world.ids[100:140]:
        assert not any(form in wire for form in _derivatives(code))
    # Each score states one snapshot per party: the source's table's, the platform's own.
    stated = {dict(o.snapshots)[TAX] for o in first.outcomes()}
    assert stated == {table.snapshot} and len(table.snapshot) == 32
    assert {dict(o.snapshots)[PLATFORM] for o in first.outcomes()} == {world.platform.snapshot_sha256[:32]}


def test_cover_lr_scores_equal_direct_and_the_real_id_hides_among_its_decoys(world: World) -> None:
    direct = world.scorer(PrivacyMode.DIRECT, "direct-2")
    cover = world.scorer(PrivacyMode.COVER, "cover")
    cover._cover._rng = random.Random(20261205)  # the shuffle, seeded for a reproducible chi-square
    ids = world.ids[50:60]
    expected = _score(direct, ids)
    world.recording.clear()
    assert [_score(cover, [cid]).results[0] for cid in ids] == list(expected.results)
    # Many single scores: what the source receives for each.
    picker = random.Random(9)
    asked = [picker.choice(world.ids) for _ in range(300)]
    for cid in asked:
        _score(cover, [cid])
    received = world.recording.clear()[len(ids):]
    assert [m for m, _, _ in received] == ["LinearScores"] * len(asked)
    positions: Counter[int] = Counter()
    for (_, body, _), cid in zip(received, asked, strict=True):
        request = scoring_pb2.PointsRequest.FromString(body)
        sent = list(request.ids)
        # The whole group, always the same for any member, every id of the same form, decoys from the served
        # population; the request's other fields say nothing of which id is meant.
        assert sorted(sent) == sorted(cover._cover.group_of(cid)) and len(sent) >= 5
        assert {len(c) for c in sent} == {18} and set(sent) <= set(world.ids)
        assert (request.model_id, request.institution, request.purpose) == (MODEL, BANK, PURPOSE)
        if len(sent) == 5:
            positions[sent.index(cid)] += 1
    cells = [positions[i] for i in range(5)]
    expected_cell = sum(cells) / 5
    chi2 = sum((c - expected_cell) ** 2 / expected_cell for c in cells)
    assert sum(cells) > 200 and chi2 < 18.47, cells  # the 0.999 quantile of chi-square with 4 degrees of freedom


def _changed(table: LoadedTable, folder: Path) -> LoadedTable:
    """The source's table with its rows' values dealt to other enterprises (fixed seed): a new data snapshot."""
    frame = pd.read_csv(folder / "data" / "tax.csv", dtype=str, keep_default_na=False)
    values = [c for c in frame.columns if c != table.schema.id_column]
    frame[values] = frame[values].sample(frac=1.0, random_state=11).to_numpy()
    frame.to_csv(folder / "tax-v2.csv", index=False, lineterminator="\n")
    return load_table(folder / "data" / "tax.toml", folder / "tax-v2.csv")


def test_a_refresh_mid_scoring_never_mixes_two_lr_snapshots(world: World) -> None:
    before, after = world.source.table, _changed(world.source.table, world.folder)
    ids = world.ids[:60]
    direct = world.scorer(PrivacyMode.DIRECT, "direct-3")
    precomputed = world.scorer(PrivacyMode.PRECOMPUTED, "precomputed-3")
    truth: dict[str, tuple] = {}
    for table in (after, before):
        world.servicer.replace_table(table)
        precomputed.tables.refresh(TAX)
        batch = _score(direct, ids)
        truth[dict(batch.results[0].snapshots)[TAX]] = tuple((o.probability_of_default, o.score)
                                                             for o in batch.outcomes())
    assert len(truth) == 2 and len(set(truth.values())) == 2
    stop, swaps = threading.Event(), [0]

    def swap() -> None:
        while not stop.is_set():
            for table in (after, before):
                world.servicer.replace_table(table)
                precomputed.tables.refresh(TAX)
                swaps[0] += 1

    swapper = threading.Thread(target=swap)
    swapper.start()
    seen: Counter[str] = Counter()
    try:
        for n in range(80):
            batch = _score(direct if n % 2 else precomputed, ids)
            stated = {dict(o.snapshots)[TAX] for o in batch.outcomes()}
            assert len(stated) == 1  # one snapshot for the whole answer...
            snapshot = stated.pop()
            # ...and every row from that snapshot alone.
            assert tuple((o.probability_of_default, o.score) for o in batch.outcomes()) == truth[snapshot]
            seen[snapshot] += 1
    finally:
        stop.set()
        swapper.join(timeout=60)
        world.servicer.replace_table(before)
        precomputed.close()
    assert swaps[0] > 1 and len(seen) == 2, (swaps, seen)


def _linear_chunk(ids: list[str], *, first: bool = False, last: bool = False, named: bool = False
                  ) -> scoring_pb2.DecisionChunk:
    rows = scoring_pb2.LinearReply(scores=[0.5] * len(ids), top_item=[1] * len(ids) if named else [])
    chunk = scoring_pb2.DecisionChunk(snapshot="aa", ids=ids, linear=rows, last=last)
    if first:
        chunk.rows_total, chunk.valid_until = 4, 4e9
        chunk.linear_absent.CopyFrom(scoring_pb2.LinearReply(scores=[0.0], training_mean=0.1, top_item=[0],
                                                             items=[scoring_pb2.SplitItem(split_id=0, item="x")]))
    return chunk


def test_an_lr_table_of_inconsistent_rows_is_refused_whole() -> None:
    whole = [_linear_chunk(["a", "b"], first=True, named=True), _linear_chunk(["c", "d"], last=True, named=True)]
    table = read_table(TAX, MODEL, iter(whole), None)
    reply = table.reply(["d", "zz"])
    assert list(reply.scores) == [0.5, 0.0] and list(reply.top_item) == [1, 0] and reply.snapshot == "aa"
    assert reply.training_mean == 0.1 and [i.item for i in reply.items] == ["x"]
    for broken in ([_linear_chunk(["a", "b"], first=True, named=True), _linear_chunk(["c", "d"], last=True)],
                   [_linear_chunk(["a", "b"], first=True, named=True),
                    _linear_chunk(["c", "d", "e"], last=True, named=True)]):
        with pytest.raises(ReplyRefused):
            read_table(TAX, MODEL, iter(broken), None)


def test_an_lr_table_in_many_chunks_scores_the_same_and_only_for_its_approval(world: World,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import source_node.scoring

    monkeypatch.setattr(source_node.scoring, "CHUNK_BYTES", 200)  # a few rows per chunk
    ids = world.ids[:30]
    expected = _score(world.scorer(PrivacyMode.DIRECT, "direct-5"), ids)
    chunked = world.scorer(PrivacyMode.PRECOMPUTED, "chunked")
    try:
        assert chunked.tables.current(TAX).rows.n_rows == len(world.source.table)
        assert _score(chunked, ids).results == expected.results
        # An institution the approval does not name: refused, never degraded around.
        other = chunked.score(ids, purpose=PURPOSE, deadline_s=5, requester="bank/other")
        assert {(r.code, r.failed_sources) for r in other} == {(FailureCode.SOURCE_UNAVAILABLE, (TAX,))}
    finally:
        chunked.close()
