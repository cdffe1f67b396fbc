"""Request coalescing: shared calls of the inner scorer, each request answered with its own results."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from platform_node.scoring.coalescing import CoalescingScorer
from platform_node.scoring.scorer import ScoreBatch
from tests.platform_node.world import enterprises, feature_sources, local_scorer


class RecordingScorer:
    """The real local scorecard scorer, with every call's codes noted and the first call held open."""

    def __init__(self, codes: list[str]) -> None:
        self.inner = local_scorer(feature_sources(codes))
        self.calls: list[tuple[list[str], str]] = []
        self.requesters: list[str] = []
        self.release = threading.Event()
        self.entered = threading.Event()

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                    requester: str = "") -> ScoreBatch:
        self.calls.append((list(credit_codes), purpose))
        self.requesters.append(requester)
        self.entered.set()
        self.release.wait(timeout=30)
        return self.inner.score(credit_codes, purpose=purpose, deadline_s=deadline_s)


def test_requests_queued_behind_a_call_share_the_next_one_and_keep_their_answers() -> None:
    codes = enterprises(30)
    inner = RecordingScorer(codes)
    direct = local_scorer(feature_sources(codes))
    scorer = CoalescingScorer(lambda: inner, dispatchers=1)
    first = scorer.submit(codes[:1], purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    assert inner.entered.wait(timeout=30)  # the dispatcher is busy with the first request
    queued = [scorer.submit([codes[i], codes[(i + 7) % 20]], purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
              for i in range(1, 20)]
    inner.release.set()
    answers = [f.result(timeout=30) for f in [first, *queued]]
    scorer.close()
    assert len(inner.calls) == 2  # the first request, then all nineteen queued ones together
    assert len(inner.calls[1][0]) == len(set(inner.calls[1][0]))  # codes shared by requests asked once
    for answer, asked in zip(answers, [codes[:1]] + [[codes[i], codes[(i + 7) % 20]] for i in range(1, 20)],
                             strict=True):
        assert answer.results == direct.score(asked, purpose="PRE_LOAN_REVIEW", deadline_s=2.0).results


def test_purposes_are_not_mixed_and_large_requests_skip_the_queue() -> None:
    codes = enterprises(120)
    inner = RecordingScorer(codes)
    inner.release.set()
    scorer = CoalescingScorer(lambda: inner, max_codes=10, dispatchers=1)
    big = scorer.submit(codes[:100], purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    assert big.done() and len(big.result()) == 100
    assert inner.calls[0] == (codes[:100], "PRE_LOAN_REVIEW")
    a = scorer.submit(codes[100:101], purpose="PRE_LOAN_REVIEW", deadline_s=2.0)
    b = scorer.submit(codes[101:102], purpose="POST_LOAN_MONITORING", deadline_s=2.0)
    assert a.result(timeout=30).results[0].credit_code == codes[100]
    assert b.result(timeout=30).results[0].credit_code == codes[101]
    scorer.close()
    assert not any(codes[100] in asked and codes[101] in asked for asked, _ in inner.calls)
    assert ([codes[101]], "POST_LOAN_MONITORING") in inner.calls


def test_requests_of_different_institutions_are_not_mixed() -> None:
    """Each source node admits a shared call under its approval for one institution, so a call never carries
    two institutions' requests."""
    codes = enterprises(10)
    inner = RecordingScorer(codes)
    scorer = CoalescingScorer(lambda: inner, dispatchers=1)
    first = scorer.submit(codes[:1], purpose="PRE_LOAN_REVIEW", deadline_s=2.0, requester="bank/a")
    assert inner.entered.wait(timeout=30)
    queued = [scorer.submit([codes[i]], purpose="PRE_LOAN_REVIEW", deadline_s=2.0,
                            requester="bank/a" if i % 2 else "bank/b") for i in range(1, 9)]
    inner.release.set()
    for future in [first, *queued]:
        future.result(timeout=30)
    scorer.close()
    assert inner.requesters[0] == "bank/a" and sorted(inner.requesters[1:]) == ["bank/a", "bank/b"]
    for asked, requester in zip([c for c, _ in inner.calls], inner.requesters, strict=True):
        expected = {codes[i] for i in range(1, 9) if ("bank/a" if i % 2 else "bank/b") == requester}
        assert set(asked) <= expected | {codes[0]}


class BrokenScorer:
    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                    requester: str = "") -> ScoreBatch:
        raise ConnectionError("inner scorer failed")


def test_an_inner_failure_reaches_every_request_of_the_call() -> None:
    broken = BrokenScorer()
    scorer = CoalescingScorer(lambda: broken)
    futures = [scorer.submit([code], purpose="PRE_LOAN_REVIEW", deadline_s=1.0) for code in enterprises(5)]
    for future in futures:
        with pytest.raises(ConnectionError):
            future.result(timeout=30)
    scorer.close()
    with pytest.raises(RuntimeError):
        scorer.submit(enterprises(1), purpose="PRE_LOAN_REVIEW", deadline_s=1.0)
