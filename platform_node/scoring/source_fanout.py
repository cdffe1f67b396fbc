"""Asking every source node of a published model for its part, in parallel, with a per-node deadline.

Both online scorers (SecureBoost leaf masks, scorecard points) need the same thing: one RPC per source,
all at once, and a clear verdict per source: its reply, or failed (an RPC error, a reply that does not
read, or no answer by the deadline). Under FAIL_ENTERPRISE a request with any failed source is answered
with SOURCE_UNAVAILABLE for every enterprise, naming the failed sources.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message
from prometheus_client import Histogram

from errors import ProtocolViolation
from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.metrics import LATENCY_BUCKETS
from federation.pki import Identity
from federation.proto import scoring_pb2_grpc
from federation.request_ids import outgoing_metadata
from platform_node.scoring.scorer import FailureCode, ScoreBatch, ScoreFailure

log = logging.getLogger("xyd.platform.scoring")

Reply = TypeVar("Reply")
SOURCE_CALLS = Histogram("xyd_scoring_source_call_seconds",
                         "Time for one source node to answer a scoring call, by source, method and outcome",
                         ["source", "method", "outcome"], buckets=LATENCY_BUCKETS)

class ReplyRefused(ProtocolViolation, ValueError):
    """A source's reply is well-formed protobuf but not a usable part (wrong size, bad values)."""


@dataclass(frozen=True)
class SourceEndpoint:
    party: str
    address: str
    category: str


@dataclass(frozen=True)
class FanOut(Generic[Reply]):
    """Each source's read reply, the sources that failed (sorted), and those of them that refused under
    their approval (PERMISSION_DENIED): a score never degrades around a refusal."""

    replies: dict[str, Reply]
    failed: tuple[str, ...]
    refused: tuple[str, ...] = ()

    def unavailable(self, credit_codes: Sequence[str]) -> ScoreBatch:
        """SOURCE_UNAVAILABLE for every enterprise, naming the failed sources."""
        return ScoreBatch(tuple(
            ScoreFailure(code, FailureCode.SOURCE_UNAVAILABLE,
                         "a source node did not answer in time; no score without every part",
                         failed_sources=self.failed) for code in credit_codes))


class SourceFanOut:
    """Calls one `PartyScoring` method on every source at once over the platform's mTLS channels.

    `ask` (blocking) starts the calls as gRPC futures: all of them are in flight together and no thread of
    ours waits on each one. `ask_async` does the same from an asyncio event loop over `grpc.aio` channels,
    where the bank API's single scores are answered without a thread hand-off.
    """

    def __init__(self, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 aio_channels: AioPeerChannels | None = None) -> None:
        self.sources = {s.party: s for s in sources}
        self._channels = channels
        self._aio_channels = aio_channels
        self._aio_methods: dict[tuple[object, str], Callable] = {}  # per channel (so per loop) and method

    def ask(self, parties: Sequence[str], method: str, request: Message, read: Callable[[object], Reply],
            deadline_s: float, *, what: str) -> FanOut[Reply]:
        """`read(reply)` of `method(request)` for each party, with `deadline_s` per call; `read` raises
        `ReplyRefused` for an unusable reply."""
        metadata, started = outgoing_metadata(), time.perf_counter()
        futures = {p: getattr(self._stub(p), method).future(request, timeout=deadline_s, metadata=metadata)
                   for p in parties}
        for party, future in futures.items():
            future.add_done_callback(lambda done, party=party: _observe_future(party, method, started, done))
        give_up = time.monotonic() + deadline_s + 1.0
        verdict = _Verdict(read, what)
        for party, future in futures.items():
            try:
                verdict.reply(party, future.result(timeout=max(0.0, give_up - time.monotonic())))
            except grpc.FutureTimeoutError:
                future.cancel()
                verdict.failed.append(party)
            except grpc.RpcError as exc:
                verdict.rpc_error(party, exc)
        return verdict.result()

    async def ask_async(self, parties: Sequence[str], method: str, request: Message,
                        read: Callable[[object], Reply], deadline_s: float, *, what: str) -> FanOut[Reply]:
        """`ask` from the running event loop (needs `aio_channels`)."""
        if self._aio_channels is None:
            raise RuntimeError("this fan-out has no asyncio channels")
        metadata = outgoing_metadata()
        calls = [self._aio_method(p, method)(request, timeout=deadline_s, metadata=metadata) for p in parties]
        outcomes = await asyncio.gather(*(asyncio.wait_for(_reply_of(call, p, method), deadline_s + 1.0)
                                          for p, call in zip(parties, calls, strict=True)),
                                        return_exceptions=True)
        verdict = _Verdict(read, what)
        for party, call, outcome in zip(parties, calls, outcomes, strict=True):
            if isinstance(outcome, grpc.RpcError):
                verdict.rpc_error(party, outcome)
            elif isinstance(outcome, BaseException):  # our own give-up (the call's deadline should come first)
                call.cancel()
                verdict.failed.append(party)
            else:
                verdict.reply(party, outcome)
        return verdict.result()

    def _aio_method(self, party: str, method: str) -> Callable:
        assert self._aio_channels is not None  # checked by ask_async
        channel = self._aio_channels.get(self.sources[party].address, Identity.parse(party))
        key = (channel, method)
        found = self._aio_methods.get(key)
        if found is None:
            found = self._aio_methods[key] = getattr(scoring_pb2_grpc.PartyScoringStub(channel), method)
        return found

    def _stub(self, party: str) -> scoring_pb2_grpc.PartyScoringStub:
        endpoint = self.sources[party]
        return scoring_pb2_grpc.PartyScoringStub(self._channels.get(endpoint.address, Identity.parse(party)))


async def _reply_of(call, party: str, method: str) -> object:
    started = time.perf_counter()
    try:
        reply = await call
    except BaseException as error:
        _observe(party, method, started, error)
        raise
    _observe(party, method, started, None)
    return reply


def _observe_future(party: str, method: str, started: float, future: grpc.Future) -> None:
    if future.cancelled():
        SOURCE_CALLS.labels(party, method, "cancelled").observe(time.perf_counter() - started)
    else:
        _observe(party, method, started, future.exception())


def _observe(party: str, method: str, started: float, error: BaseException | None) -> None:
    outcome = "ok" if error is None else (error.code().name if isinstance(error, grpc.RpcError) else "error")
    SOURCE_CALLS.labels(party, method, outcome.lower()).observe(time.perf_counter() - started)


class _Verdict(Generic[Reply]):
    """Sorts each party's outcome into read replies and failures, logging why a party failed."""

    def __init__(self, read: Callable[[object], Reply], what: str) -> None:
        self._read, self._what = read, what
        self.replies: dict[str, Reply] = {}
        self.failed: list[str] = []
        self.refused: list[str] = []

    def reply(self, party: str, reply: object) -> None:
        try:
            self.replies[party] = self._read(reply)
        except ReplyRefused as exc:
            log.error(f"{self._what} reply refused", extra={"source": party, "error": str(exc)})
            self.failed.append(party)

    def rpc_error(self, party: str, exc: grpc.RpcError) -> None:
        log.warning(f"{self._what} failed", extra={"source": party, "code": exc.code().name})
        self.failed.append(party)
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            self.refused.append(party)

    def result(self) -> FanOut[Reply]:
        return FanOut(self.replies, tuple(sorted(self.failed)), tuple(sorted(self.refused)))
