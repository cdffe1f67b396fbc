"""Request coalescing on an event loop: shared `score_async` calls, at most `max_in_flight` at once, each
request answered with its own results in its own order, failures reaching every request of a call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_node.scoring.async_coalescer import AsyncCoalescingScorer
from platform_node.scoring.scorer import ScoreBatch, ScorerContractError
from tests.platform_node.world import enterprises, feature_sources, local_scorer

CODES = enterprises(40)
DIRECT = local_scorer(feature_sources(CODES))


class HeldScorer:
    """The real local scorecard scorer behind `score_async`, each call noted and held until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str, float]] = []
        self.release = asyncio.Event()
        self.running = 0
        self.most_running = 0

    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                    requester: str = "") -> ScoreBatch:
        self.calls.append((list(credit_codes), purpose, deadline_s))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release.wait()
            return DIRECT.score(credit_codes, purpose=purpose, deadline_s=deadline_s)
        finally:
            self.running -= 1


def _expected(asked: Sequence[str]) -> tuple:
    return DIRECT.score(asked, purpose="PRE_LOAN_REVIEW", deadline_s=1.0).results


def test_requests_queued_behind_busy_calls_share_the_next_one_and_keep_their_answers() -> None:
    async def scenario() -> None:
        inner = HeldScorer()
        scorer = AsyncCoalescingScorer(lambda: inner, max_in_flight=1)
        first = asyncio.create_task(scorer.score(CODES[:1], purpose="PRE_LOAN_REVIEW", deadline_s=2.0))
        while not inner.calls:  # the only shared call is now busy with the first request
            await asyncio.sleep(0)
        asked = [[CODES[i], CODES[(i + 7) % 20]] for i in range(1, 20)]
        queued = [asyncio.create_task(scorer.score(a, purpose="PRE_LOAN_REVIEW", deadline_s=1.0 + i))
                  for i, a in enumerate(asked)]
        await asyncio.sleep(0.01)
        inner.release.set()
        answers = await asyncio.gather(first, *queued)
        await scorer.drain()
        assert len(inner.calls) == 2  # the first request, then all nineteen queued ones together
        shared, _, deadline = inner.calls[1]
        assert len(shared) == len(set(shared))  # codes asked by two requests are scored once
        assert deadline == 1.0  # the shortest deadline of the group
        for answer, codes in zip(answers, [CODES[:1], *asked], strict=True):
            assert answer.results == _expected(codes)

    asyncio.run(scenario())


def test_no_more_than_max_in_flight_calls_run_and_purposes_are_not_mixed() -> None:
    async def scenario() -> None:
        inner = HeldScorer()
        scorer = AsyncCoalescingScorer(lambda: inner, max_in_flight=2, max_codes=10)
        purposes = ["PRE_LOAN_REVIEW", "POST_LOAN_MONITORING", "PRE_LOAN_REVIEW"]
        tasks = [asyncio.create_task(scorer.score([CODES[i]], purpose=purposes[i % 3], deadline_s=1.0))
                 for i in range(12)]
        big = asyncio.create_task(scorer.score(CODES[:30], purpose="PRE_LOAN_REVIEW", deadline_s=1.0))
        await asyncio.sleep(0.01)
        assert inner.most_running == 3  # two shared calls plus the large request, which skips the queue
        assert ([*CODES[:30]], "PRE_LOAN_REVIEW", 1.0) in inner.calls
        inner.release.set()
        results = await asyncio.gather(*tasks)
        assert len(await big) == 30
        for i, batch in enumerate(results):
            assert batch.results[0].credit_code == CODES[i]
        for codes, purpose, _ in inner.calls:
            if len(codes) < 30:  # a shared call: one purpose
                assert {purposes[CODES.index(c) % 3] for c in codes} == {purpose}

    asyncio.run(scenario())


class BrokenScorer:
    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                    requester: str = "") -> ScoreBatch:
        await asyncio.sleep(0)
        raise ConnectionError("inner scorer failed")


class WrongOrderScorer:
    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                    requester: str = "") -> ScoreBatch:
        return DIRECT.score(list(reversed(credit_codes)), purpose=purpose, deadline_s=deadline_s)


@pytest.mark.parametrize(("inner", "error"), [(BrokenScorer(), ConnectionError), (WrongOrderScorer(), ScorerContractError)])
def test_an_inner_failure_or_broken_contract_reaches_every_request_of_the_call(inner, error) -> None:
    async def scenario() -> None:
        scorer = AsyncCoalescingScorer(lambda: inner)
        outcomes = await asyncio.gather(*(scorer.score([c], purpose="PRE_LOAN_REVIEW", deadline_s=1.0)
                                          for c in CODES[:5]), return_exceptions=True)
        assert all(isinstance(o, error) for o in outcomes)
        await scorer.drain()

    asyncio.run(scenario())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 39), min_size=1, max_size=5), min_size=1, max_size=30),
       st.integers(1, 3), st.integers(5, 60))
def test_every_request_gets_exactly_its_own_results(requests: list[list[int]], in_flight: int, group_codes: int
                                                    ) -> None:
    class Immediate:
        async def score_async(self, credit_codes, *, purpose, deadline_s, requester=""):
            await asyncio.sleep(0)
            return DIRECT.score(credit_codes, purpose=purpose, deadline_s=deadline_s)

    async def scenario() -> list[ScoreBatch]:
        scorer = AsyncCoalescingScorer(Immediate, max_in_flight=in_flight, max_codes=5,
                                       max_group_codes=max(5, group_codes))
        return await asyncio.gather(*(scorer.score([CODES[i] for i in r], purpose="PRE_LOAN_REVIEW", deadline_s=1.0)
                                      for r in requests))

    for asked, answer in zip(requests, asyncio.run(scenario()), strict=True):
        assert answer.results == _expected([CODES[i] for i in asked])


def test_a_blocking_scorer_put_in_place_meanwhile_answers_from_a_worker_thread() -> None:
    async def scenario() -> ScoreBatch:
        scorer = AsyncCoalescingScorer(lambda: DIRECT)  # the local scorecard scorer has no score_async
        return await scorer.score(CODES[:3], purpose="PRE_LOAN_REVIEW", deadline_s=1.0)

    assert asyncio.run(scenario()).results == _expected(CODES[:3])
