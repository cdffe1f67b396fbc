"""Group commit: concurrent requests share transactions, each gets its own receipts, failures stay scoped.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from consent.audit import SchemaMissingError
from consent.audit.schema import HEAD_ROW_ID
from platform_node.institutions.errors import QuotaExhausted
from platform_node.institutions.limits import quota_used
from platform_node.uses.group_commit import GroupCommitRecorder, PendingUses
from platform_node.uses.loop_batching import LoopBatchedRecorder
from platform_node.uses.schema import uses
from tests.platform_node.world import BANK_A, BANK_B, Platform, build_platform


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    built = build_platform(tmp_path, enterprise_count=40, database_url=url)
    yield built
    built.services.close()


def _prepared(platform: Platform, institution: str, codes: list[str], ref: str):
    services = platform.services
    batch = services.scorer.score(codes, purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    return services.uses.prepare_scores(institution_id=institution, purpose="PRE_LOAN_REVIEW",
                                        loan_application_ref=ref, outcomes=batch.outcomes(), now=platform.clock())


def test_concurrent_requests_each_get_their_own_uses_and_consecutive_leaves(platform: Platform) -> None:
    services = platform.services
    recorder = GroupCommitRecorder(services.engine, services.uses)
    prepared = [_prepared(platform, BANK_A if i % 2 else BANK_B, [platform.codes[i]], f"LA-{i}") for i in range(32)]
    answers: dict[int, list] = {}
    start = threading.Barrier(32)

    def request(i: int) -> None:
        start.wait()
        answers[i] = recorder.record(institution_id=prepared[i].rows[0]["institution_id"], daily_quota=1000,
                                     prepared=prepared[i], now=platform.clock())

    threads = [threading.Thread(target=request, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    recorder.close()
    assert sorted(answers) == list(range(32))
    for i, [recorded] in answers.items():
        assert recorded.outcome.credit_code == platform.codes[i]
        use = services.uses.get(recorded.use_id)
        assert use.loan_application_ref == f"LA-{i}" and use.audit_index == recorded.receipt.index
        assert services.audit.leaf(recorded.receipt.index).event.use_id == recorded.use_id
    assert sorted(r.receipt.index for [r] in answers.values()) == list(range(32))
    with services.engine.connect() as conn:
        assert quota_used(conn, BANK_A, now=platform.clock()) == 16
        assert quota_used(conn, BANK_B, now=platform.clock()) == 16
    assert recorder.known_quota_use(BANK_A, now=platform.clock()) == 16


def test_a_request_over_quota_fails_alone(platform: Platform) -> None:
    services = platform.services
    recorder = GroupCommitRecorder(services.engine, services.uses)
    big = _prepared(platform, BANK_A, platform.codes[:5], "LA-BIG")
    small = _prepared(platform, BANK_B, platform.codes[5:7], "LA-SMALL")
    # Both queued before the writer runs, so they share one transaction.
    futures = [recorder.submit(institution_id=BANK_A, daily_quota=4, prepared=big, now=platform.clock()),
               recorder.submit(institution_id=BANK_B, daily_quota=4, prepared=small, now=platform.clock())]
    with pytest.raises(QuotaExhausted):
        futures[0].result(timeout=30)
    assert [r.outcome.credit_code for r in futures[1].result(timeout=30)] == platform.codes[5:7]
    recorder.close()
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(uses)).scalar_one() == 2
        assert quota_used(conn, BANK_A, now=platform.clock()) == 0


def test_a_failed_commit_fails_the_group_and_writes_nothing(platform: Platform) -> None:
    services = platform.services
    with services.engine.begin() as conn:  # break the log: its head row disappears
        conn.execute(update(services.audit.tables.head).where(services.audit.tables.head.c.id == HEAD_ROW_ID)
                     .values(id=99))
    recorder = GroupCommitRecorder(services.engine, services.uses)
    futures = [recorder.submit(institution_id=BANK_A, daily_quota=100, now=platform.clock(),
                               prepared=_prepared(platform, BANK_A, [code], "LA-1")) for code in platform.codes[:3]]
    for future in futures:
        with pytest.raises(SchemaMissingError):
            future.result(timeout=30)
    recorder.close()
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(uses)).scalar_one() == 0
        assert quota_used(conn, BANK_A, now=platform.clock()) == 0
    with pytest.raises(RuntimeError):
        recorder.submit(institution_id=BANK_A, daily_quota=1, now=platform.clock(),
                        prepared=_prepared(platform, BANK_A, platform.codes[:1], "LA-2"))


def test_requests_of_one_institution_share_a_quota_charge_and_only_the_late_one_fails(platform: Platform) -> None:
    services = platform.services
    recorder = GroupCommitRecorder(services.engine, services.uses)
    prepared = [_prepared(platform, BANK_A, platform.codes[2 * i:2 * i + 2], f"LA-{i}") for i in range(3)]
    futures = [recorder.submit(institution_id=BANK_A, daily_quota=4, prepared=p, now=platform.clock())
               for p in prepared]  # queued together: one group, six enterprises against a quota of four
    assert len(futures[0].result(timeout=30)) == 2 and len(futures[1].result(timeout=30)) == 2
    with pytest.raises(QuotaExhausted):
        futures[2].result(timeout=30)
    recorder.close()
    with services.engine.connect() as conn:
        assert quota_used(conn, BANK_A, now=platform.clock()) == 4
        assert conn.execute(select(func.count()).select_from(uses)).scalar_one() == 4


def test_uses_submitted_in_one_loop_iteration_commit_in_one_transaction(platform: Platform) -> None:
    services = platform.services
    recorder = GroupCommitRecorder(services.engine, services.uses)
    batched = LoopBatchedRecorder(recorder)
    commits: list[int] = []
    event.listen(services.engine, "commit", lambda conn: commits.append(1))
    prepared = [_prepared(platform, BANK_A, [platform.codes[i]], f"LA-{i}") for i in range(8)]
    over = _prepared(platform, BANK_B, platform.codes[8:11], "LA-OVER")

    async def requests():  # all resume in one iteration, as requests answered by one shared fan-out do
        return await asyncio.gather(
            *(batched.record(PendingUses(BANK_A, 100, p, platform.clock())) for p in prepared),
            batched.record(PendingUses(BANK_B, 2, over, platform.clock())), return_exceptions=True)

    answers = asyncio.run(requests())
    recorder.close()
    assert len(commits) == 1
    assert isinstance(answers[-1], QuotaExhausted)  # over its quota: fails alone
    assert [a[0].outcome.credit_code for a in answers[:-1]] == platform.codes[:8]
    assert [a[0].receipt.index for a in answers[:-1]] == list(range(8))

    async def after_close():
        return await batched.record(PendingUses(BANK_A, 100, prepared[0], platform.clock()))

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(after_close())
