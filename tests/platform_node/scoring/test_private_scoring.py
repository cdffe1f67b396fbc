"""Private queries and snapshot consistency (issue 22 items 3 and 5), over real mTLS gRPC to a governed source:

* precomputed: scores equal the direct mode's, and the source receives no request carrying a scored id or
  anything derived from one: what it receives does not depend on which enterprises are scored at all;
* the platform stops using a precomputed table when the approval is suspended, outside its serving scope,
  and past its end;
* cover: the real enterprise's position in what a source receives is uniform (chi-square, fixed seed) and the
  request is the same whichever member of the group was meant;
* a source's data refresh in the middle of scoring never mixes two snapshots into one answer or score.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pandas as pd
import pytest

from consent.governance import ApprovalStatus, Quotas, Serving
from federation.grpc_channel import PeerChannels
from federation.pki import CertificateAuthority, Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc, secureboost_pb2
from federation.server import NodeServer
from models.secureboost import ActiveModel
from platform_node.scoring.cover import CoverGroups
from platform_node.scoring.precomputed import read_table
from platform_node.scoring.privacy import PrivacyMode, PrivacySettings
from platform_node.scoring.scorer import FailureCode, ScoreOutcome
from platform_node.scoring.secureboost import FederatedSecureBoostScorer, SourceEndpoint
from platform_node.scoring.source_fanout import ReplyRefused
from sandbox.synthdata import generate
from source_node.scoring import PartyScoringServicer
from source_node.scoring_settings import ScoringSettings
from tables import LoadedTable, load_table
from tests.consent.governance_world import T0
from tests.source_node.governed_job import (
    NOT_SHARED,
    PLATFORM,
    TAX,
    UNAPPROVED,
    GovernedSource,
    approval_terms,
    job,
    load_tax,
    platform_handlers,
    run_stage,
)

BANK = "bank/icbc-sz"
MODEL = "sb-job-1"


class Recording(scoring_pb2_grpc.PartyScoringServicer):
    """The source's own servicer, with every request it receives kept as its wire bytes and metadata."""

    def __init__(self, inner: PartyScoringServicer) -> None:
        self.inner = inner
        self.received: list[tuple[str, bytes, tuple]] = []
        self._lock = threading.Lock()

    def _keep(self, method: str, request, context) -> None:
        with self._lock:
            self.received.append((method, request.SerializeToString(), tuple(context.invocation_metadata())))

    def LeafMasks(self, request, context):  # noqa: N802
        self._keep("LeafMasks", request, context)
        return self.inner.LeafMasks(request, context)

    def LinearScores(self, request, context):  # noqa: N802
        self._keep("LinearScores", request, context)
        return self.inner.LinearScores(request, context)

    def Decisions(self, request, context):  # noqa: N802
        self._keep("Decisions", request, context)
        yield from self.inner.Decisions(request, context)

    def clear(self) -> list[tuple[str, bytes, tuple]]:
        with self._lock:
            out, self.received = self.received, []
        return out


class World:
    def __init__(self, folder: Path) -> None:
        generate(200, 3, folder / "data")
        self.source = GovernedSource(load_tax(folder / "data"), folder / "gov")
        items = tuple(c for c in self.source.table.schema.column_names if c not in (NOT_SHARED, UNAPPROVED))
        self.approval_id = self.source.approve(approval_terms(items, serving=Serving(
            online=True, institutions=(BANK,)), quotas=Quotas(10**9, 10**9),
            # The governance clock is T0; the platform's is the wall clock: an approval that ends well after both.
            not_after=T0 + timedelta(days=3650)))
        self.platform = load_table(folder / "data" / "platform.toml", folder / "data" / "platform.csv")
        handlers = {PLATFORM: platform_handlers(self.platform), TAX: self.source.handlers()}
        spec = job(trees=3)
        for stage in spec.stages:
            assert not run_stage(spec, stage, handlers, folder / "run").errors
        self.model = ActiveModel.from_bytes(
            (folder / "run" / "platform-main" / "models" / MODEL / "secureboost-active.bin").read_bytes())
        self.folder = folder
        self.servicer = PartyScoringServicer(self.source.table, folder / "run" / "source-tax" / "models",
                                             self.source.governance, ScoringSettings(precomputed=True))
        self.recording = Recording(self.servicer)
        ca = CertificateAuthority.create(folder / "pki")
        self.server = NodeServer(ca.issue(Identity.parse(TAX)))
        self.server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, self.recording)
        self.server.start()
        self.channels = PeerChannels(ca.issue(Identity.parse(PLATFORM)))
        self.ids = [str(i) for i in self.platform.ids]

    def scorer(self, mode: PrivacyMode, folder: str) -> FederatedSecureBoostScorer:
        (self.folder / folder).mkdir(exist_ok=True)
        return FederatedSecureBoostScorer(
            model_id=MODEL, model_version="v1", model=self.model, own_table=self.platform, label_column="default",
            sources=[SourceEndpoint(TAX, self.server.address, "tax")], channels=self.channels,
            defaults_dir=self.folder / folder, privacy=PrivacySettings(mode=mode, cover_k=4, refresh_s=3600))

    def close(self) -> None:
        self.channels.close()
        self.server.stop(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = World(tmp_path_factory.mktemp("private-scoring"))
    try:
        yield built
    finally:
        built.close()


def _scores(batch) -> list[tuple[str, float, int]]:
    return [(r.credit_code, r.probability_of_default, r.score) if isinstance(r, ScoreOutcome)
            else (r.credit_code, -1.0, -1) for r in batch]


def _derivatives(credit_code: str) -> list[bytes]:
    """The forms a scored id could take on the wire: itself, its digests, its upper and lower case."""
    raw = credit_code.encode()
    return [raw, raw.lower(), raw.upper(), *(h(raw).digest() for h in (hashlib.sha256, hashlib.md5, hashlib.sha1)),
            *(h(raw).hexdigest().encode() for h in (hashlib.sha256, hashlib.md5, hashlib.sha1))]


def test_precomputed_scores_equal_direct_and_no_request_to_the_source_carries_a_scored_id(world: World) -> None:
    direct = world.scorer(PrivacyMode.DIRECT, "direct")
    expected = direct.score(world.ids[:40], purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
    assert world.recording.clear(), "direct mode asks the source"
    precomputed = world.scorer(PrivacyMode.PRECOMPUTED, "precomputed")
    try:
        fetched = world.recording.clear()  # the table's fetch: before any score
        first = precomputed.score(world.ids[:40], purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
        second = precomputed.score(world.ids[100:140], purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
        assert world.recording.clear() == []  # scoring asked the source nothing at all
        precomputed.tables.refresh_all()  # a scheduled refresh after scoring: the same request as before any
        refreshed = world.recording.clear()
    finally:
        precomputed.close()
    assert _scores(first) == _scores(expected), first.results[:2]
    assert all(isinstance(r, ScoreOutcome) for r in second)
    # What the source received is the same whether or not (and whichever) enterprises were scored...
    assert [m for m, _, _ in fetched] == ["Decisions"] and len(refreshed) == 1
    request = scoring_pb2.DecisionsRequest.FromString(fetched[0][1])
    assert request.model_id == MODEL and request.have_snapshot == ""
    assert scoring_pb2.DecisionsRequest.FromString(refreshed[0][1]).model_id == MODEL
    # ...and holds no scored id nor any digest of one, in the message or its metadata.
    wire = b"".join(body + repr(meta).encode() for _, body, meta in fetched + refreshed)
    for code in world.ids[:40] + world.ids[100:140]:
        assert not any(form in wire for form in _derivatives(code))
    # The score states the one snapshot of each party it used, the source's the same as in direct mode.
    stated = {dict(r.snapshots)[TAX] for r in first.outcomes()}
    assert stated == {dict(r.snapshots)[TAX] for r in expected.outcomes()} and len(stated) == 1
    assert {dict(r.snapshots)[PLATFORM] for r in first.outcomes()} == {world.platform.snapshot_sha256[:32]}


def test_a_precomputed_table_is_used_only_within_its_approval(world: World) -> None:
    precomputed = world.scorer(PrivacyMode.PRECOMPUTED, "approval")
    store, source = precomputed.tables, world.source
    try:
        ids = world.ids[:5]
        assert all(isinstance(r, ScoreOutcome) for r in precomputed.score(ids, purpose="PRE_LOAN_REVIEW",
                                                                          deadline_s=5, requester=BANK))
        # An institution the approval does not name: refused (no degraded score around a refusal).
        other = precomputed.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=5, requester="bank/other")
        assert {(r.code, r.failed_sources) for r in other} == {(FailureCode.SOURCE_UNAVAILABLE, (TAX,))}
        # Suspended: the next refresh is refused and the table dropped at once.
        source.store.transition(world.approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="", now=T0)
        store.refresh(TAX)
        assert store.current(TAX) is None
        assert all(r.code is FailureCode.SOURCE_UNAVAILABLE for r in precomputed.score(
            ids, purpose="PRE_LOAN_REVIEW", deadline_s=5, requester=BANK))
        source.store.transition(world.approval_id, ApprovalStatus.APPROVED, actor="admin/tax", reason="", now=T0)
        table = store.refresh(TAX)
        assert table is not None and table.approval_id == world.approval_id
        # Never past its end (the approval's not_after, or the source's maximum age).
        assert table.serves(BANK, table.valid_until - 1) and not table.serves(BANK, table.valid_until)
    finally:
        precomputed.close()


def test_a_source_that_does_not_serve_tables_refuses_them(world: World, tmp_path: Path) -> None:
    closed = PartyScoringServicer(world.source.table, world.folder / "run" / "source-tax" / "models",
                                  world.source.governance, ScoringSettings(precomputed=False))
    ca = CertificateAuthority.create(tmp_path / "pki")
    server = NodeServer(ca.issue(Identity.parse(TAX)))
    server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, closed)
    server.start()
    channels = PeerChannels(ca.issue(Identity.parse(PLATFORM)))
    try:
        stub = scoring_pb2_grpc.PartyScoringStub(channels.get(server.address, Identity.parse(TAX)))
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Decisions(scoring_pb2.DecisionsRequest(model_id=MODEL), timeout=10))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channels.close()
        server.stop(0)


def test_cover_positions_are_uniform_and_the_request_is_the_same_for_every_member() -> None:
    population = [f"91330100{n:09d}X" for n in range(500)]
    k = 4
    groups = CoverGroups(population, k, b"k" * 32, rng=random.Random(20261205))
    positions: Counter[int] = Counter()
    draws = 5000
    picker = random.Random(7)
    for _ in range(draws):
        real = picker.choice(population)
        sent, where = groups.disguise([real])
        assert len(sent) >= k + 1 and sent[where[0]] == real
        positions[int(where[0])] += 1
    # Pearson's chi-square over the k + 1 positions (groups of exactly k + 1 here but the last):
    cells = [positions[i] for i in range(k + 1)]
    expected = sum(cells) / (k + 1)
    chi2 = sum((c - expected) ** 2 / expected for c in cells)
    assert chi2 < 18.47, cells  # the 0.999 quantile of chi-square with 4 degrees of freedom
    # Whichever member is meant, the source receives the very same ids (so the same form and size).
    group = groups.group_of(population[0])
    assert len(group) >= k + 1 and all(len(c) == 18 for c in group)
    assert {tuple(sorted(groups.disguise([member])[0])) for member in group} == {tuple(sorted(group))}


def test_cover_mode_scores_equal_direct_and_the_source_sees_whole_groups(world: World) -> None:
    direct = world.scorer(PrivacyMode.DIRECT, "direct-2")
    cover = world.scorer(PrivacyMode.COVER, "cover")
    ids = world.ids[50:60]
    expected = direct.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
    world.recording.clear()
    got = [cover.score([cid], purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK) for cid in ids]
    received = world.recording.clear()
    assert [_scores(b)[0] for b in got] == _scores(expected)
    assert [m for m, _, _ in received] == ["LeafMasks"] * len(ids)
    for (_, body, _), cid in zip(received, ids, strict=True):
        request = scoring_pb2.MaskRequest.FromString(body)
        assert cid in request.ids and len(request.ids) >= 5
        assert set(request.ids) <= set(world.ids)  # decoys from the served population


def _changed(table: LoadedTable, folder: Path) -> LoadedTable:
    """The source's table with its rows' values dealt to other enterprises (fixed seed): a new data snapshot."""
    frame = pd.read_csv(folder / "data" / "tax.csv", dtype=str, keep_default_na=False)
    values = [c for c in frame.columns if c != table.schema.id_column]
    frame[values] = frame[values].sample(frac=1.0, random_state=11).to_numpy()
    frame.to_csv(folder / "tax-v2.csv", index=False, lineterminator="\n")
    return load_table(folder / "data" / "tax.toml", folder / "tax-v2.csv")


def test_a_refresh_mid_scoring_never_mixes_two_snapshots(world: World) -> None:
    before, after = world.source.table, _changed(world.source.table, world.folder)
    assert before.snapshot_sha256 != after.snapshot_sha256
    ids = world.ids[:60]
    direct = world.scorer(PrivacyMode.DIRECT, "direct-3")
    precomputed = world.scorer(PrivacyMode.PRECOMPUTED, "precomputed-3")
    # What each snapshot alone gives, in either mode.
    truth: dict[str, list] = {}
    for table in (after, before):
        world.servicer.replace_table(table)
        precomputed.tables.refresh(TAX)
        batch = direct.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
        truth[dict(batch.results[0].snapshots)[TAX]] = _scores(batch)
    assert len(truth) == 2 and len({tuple(v) for v in truth.values()}) == 2
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
            scorer = direct if n % 2 else precomputed
            batch = scorer.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK)
            stated = {dict(r.snapshots)[TAX] for r in batch.outcomes()}
            assert len(stated) == 1  # one snapshot for the whole answer...
            snapshot = stated.pop()
            assert _scores(batch) == truth[snapshot]  # ...and every row from that snapshot alone
            seen[snapshot] += 1
    finally:
        stop.set()
        swapper.join(timeout=60)
        world.servicer.replace_table(before)
        precomputed.close()
    assert swaps[0] > 1 and len(seen) == 2, (swaps, seen)


def _chunk(snapshot: str, ids: list[str], *, first: bool = False, last: bool = False,
           total: int = 4) -> scoring_pb2.DecisionChunk:
    def masks(n: int) -> secureboost_pb2.LeafMasks:
        out = secureboost_pb2.LeafMasks(party=TAX, n_rows=n)
        out.trees.add(tree=0, n_leaves=4, bits=bytes([0xF0]) * n)
        return out

    chunk = scoring_pb2.DecisionChunk(snapshot=snapshot, ids=ids, masks=masks(len(ids)), last=last)
    if first:
        chunk.rows_total, chunk.valid_until = total, 4e9
        chunk.defaults.CopyFrom(masks(1))
    return chunk


def test_a_table_is_taken_whole_from_one_snapshot_or_not_at_all() -> None:
    whole = [_chunk("aa", ["a", "b"], first=True), _chunk("aa", ["c", "d"], last=True)]
    assert read_table(TAX, MODEL, iter(whole), None).index == {"a": 0, "b": 1, "c": 2, "d": 3}
    for broken in ([_chunk("aa", ["a", "b"], first=True), _chunk("bb", ["c", "d"], last=True)],  # two snapshots
                   [_chunk("aa", ["a", "b"], first=True), _chunk("aa", ["c", "d"])],  # no last chunk
                   [_chunk("aa", ["a", "b"], first=True, total=5), _chunk("aa", ["c", "d"], last=True)],  # short
                   [_chunk("aa", ["a", "b"], first=True), _chunk("aa", ["b", "d"], last=True)]):  # a repeated id
        with pytest.raises(ReplyRefused):
            read_table(TAX, MODEL, iter(broken), None)


def test_a_table_streamed_in_many_chunks_scores_the_same(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import source_node.scoring

    monkeypatch.setattr(source_node.scoring, "CHUNK_BYTES", 400)  # a few rows per chunk
    ids = world.ids[:30]
    direct = world.scorer(PrivacyMode.DIRECT, "direct-4").score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=10,
                                                                 requester=BANK)
    chunked = world.scorer(PrivacyMode.PRECOMPUTED, "chunked")
    try:
        assert chunked.tables.current(TAX).rows.n_rows == len(world.source.table)
        assert chunked.score(ids, purpose="PRE_LOAN_REVIEW", deadline_s=10, requester=BANK).results == direct.results
    finally:
        chunked.close()
