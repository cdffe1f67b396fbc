"""Request coalescing in front of a `Scorer`: concurrent small requests share one fan-out.

Asking every source node for one enterprise costs a gRPC round trip per source and request, whatever the
size; sixteen banks asking at once paid it sixteen times. Here small requests queue and a dispatcher thread
takes everything queued (per purpose) into one call of the inner scorer, then hands each request its own
results, in its own order. While one call is in flight the next group gathers, so a quiet system answers a
lone request at once and a busy one batches more. Requests above `max_codes` skip the queue.

Each request's results depend only on its own credit codes (scorers decide every enterprise on its own),
so coalescing changes no answer; the deadline of a shared call is the shortest of its requests'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

from platform_node.scoring.scorer import ScoreBatch, Scorer, ScorerContractError
from platform_node.uses.grouped_queue import GroupedQueue


class Queued(Protocol):
    codes: tuple[str, ...]
    purpose: str
    requester: str
    model_id: str


def model_kwargs(scorer: object, model_id: str) -> dict[str, str]:
    """The `model_id` argument for a scorer that chooses among models (none when the default is asked, so
    scorers of one model keep their signature); a named model a single-model scorer cannot serve is a
    `ScorerContractError`."""
    if not model_id:
        return {}
    if not getattr(scorer, "chooses_models", False):
        raise ScorerContractError("this scorer serves one model and cannot choose another")
    return {"model_id": model_id}


Q = TypeVar("Q", bound=Queued)


def take_group(queue: deque[Q], max_group_codes: int) -> list[Q]:
    """Remove and return the oldest request and every queued one with its purpose, requester (each source
    node admits a shared call for one institution) and model, up to `max_group_codes` codes; the others stay
    queued in their order."""
    first = queue.popleft()
    group, size, kept = [first], len(first.codes), deque()
    while queue:
        request = queue.popleft()
        if (request.purpose == first.purpose and request.requester == first.requester
                and request.model_id == first.model_id and size + len(request.codes) <= max_group_codes):
            group.append(request)
            size += len(request.codes)
        else:
            kept.append(request)
    queue.extendleft(reversed(kept))
    return group


def group_codes(group: Sequence[Queued]) -> list[str]:
    """The distinct credit codes of a group, in first-asked order: what one shared call scores."""
    return list(dict.fromkeys(code for request in group for code in request.codes))


def split_answers(group: Sequence[Queued], codes: list[str], batch: ScoreBatch) -> list[ScoreBatch]:
    """Each request's own results, in its own order, from the shared call's `batch` over `codes`."""
    by_code = dict(zip(codes, batch.results, strict=True))
    return [ScoreBatch(tuple(by_code[code] for code in request.codes)) for request in group]


@dataclass(eq=False)
class _Request:
    codes: tuple[str, ...]
    purpose: str
    deadline_s: float
    future: Future
    requester: str = ""
    model_id: str = ""


class CoalescingScorer:
    """A `Scorer` that merges concurrent small requests into shared calls of the scorer `current()` names.

    `current` is asked once per call, so whoever owns the scorer may replace it at any time.
    """

    def __init__(self, current: Callable[[], Scorer], *, max_codes: int = 64, max_group_codes: int = 2048,
                 dispatchers: int = 2, linger_s: float = 0.002) -> None:
        if max_codes < 1 or max_group_codes < max_codes:
            raise ValueError("need 1 <= max_codes <= max_group_codes")
        self._current = current
        self._max_codes, self._max_group_codes = max_codes, max_group_codes
        self._queue: GroupedQueue[_Request] = GroupedQueue(self._answer, self._take_group, workers=dispatchers,
                                                           linger_s=linger_s, name="score-coalesce")

    def submit(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = "",
               model_id: str = "") -> Future:
        """Queue a request; the future gives its `ScoreBatch` (or the inner scorer's exception). A request of
        more than `max_codes` is answered in the calling thread before this returns."""
        request = _Request(tuple(credit_codes), purpose, deadline_s, Future(), requester, model_id)
        if len(request.codes) > self._max_codes:
            self._answer([request])
        else:
            self._queue.put(request)
        return request.future

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = "",
              model_id: str = "") -> ScoreBatch:
        return self.submit(credit_codes, purpose=purpose, deadline_s=deadline_s, requester=requester,
                           model_id=model_id).result()

    def close(self) -> None:
        """Answer what is queued and stop the dispatchers (the scorer's owner closes the scorer)."""
        self._queue.close()

    def _take_group(self, queue: deque[_Request]) -> list[_Request]:
        return take_group(queue, self._max_group_codes)

    def _answer(self, group: list[_Request]) -> None:
        codes = group_codes(group)
        try:
            scorer = self._current()
            batch = scorer.score(codes, purpose=group[0].purpose,
                                 deadline_s=min(request.deadline_s for request in group),
                                 requester=group[0].requester, **model_kwargs(scorer, group[0].model_id))
            batch.check_answers(codes)
        except Exception as failure:
            for request in group:
                request.future.set_exception(failure)
            return
        for request, answer in zip(group, split_answers(group, codes, batch), strict=True):
            request.future.set_result(answer)
