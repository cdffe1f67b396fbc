"""Asking every source node of a published model for its part, in parallel, with a per-node deadline.

Both online scorers (SecureBoost leaf masks, scorecard points) need the same thing: one RPC per source,
all at once, and a clear verdict per source: its reply, or failed (an RPC error, a reply that does not
read, or no answer by the deadline). Under FAIL_ENTERPRISE a request with any failed source is answered
with SOURCE_UNAVAILABLE for every enterprise, naming the failed sources.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc

from federation.grpc_channel import PeerChannels
from federation.pki import Identity
from federation.proto import scoring_pb2_grpc
from platform_node.scoring_api import FailureCode, ScoreBatch, ScoreFailure

log = logging.getLogger("xyd.platform.scoring")

Reply = TypeVar("Reply")

class ReplyRefused(ValueError):
    """A source's reply is well-formed protobuf but not a usable part (wrong size, bad values)."""


@dataclass(frozen=True)
class SourceEndpoint:
    party: str
    address: str
    category: str


@dataclass(frozen=True)
class FanOut(Generic[Reply]):
    """Each source's read reply, and the sources that failed (sorted)."""

    replies: dict[str, Reply]
    failed: tuple[str, ...]

    def unavailable(self, credit_codes: Sequence[str]) -> ScoreBatch:
        """SOURCE_UNAVAILABLE for every enterprise, naming the failed sources."""
        return ScoreBatch(tuple(
            ScoreFailure(code, FailureCode.SOURCE_UNAVAILABLE,
                         "a source node did not answer in time; no score without every part",
                         failed_sources=self.failed) for code in credit_codes))


class SourceFanOut:
    """Calls `PartyScoring` on every source at once over the platform's mTLS channels.

    The calls are gRPC futures (`stub.Method.future`): all of them are in flight together and no thread
    of ours waits on each one; a fan-out costs three thread hand-offs fewer than a pool of blocking calls.
    """

    def __init__(self, sources: Sequence[SourceEndpoint], channels: PeerChannels) -> None:
        self.sources = {s.party: s for s in sources}
        self._channels = channels

    def ask(self, parties: Sequence[str], call: Callable[[scoring_pb2_grpc.PartyScoringStub, float], grpc.Future],
            read: Callable[[object], Reply], deadline_s: float, *, what: str) -> FanOut[Reply]:
        """`read(call(stub, deadline_s).result())` for each party, where `call` starts the RPC as a future;
        `read` raises `ReplyRefused` for an unusable reply."""
        futures = {p: call(self._stub(p), deadline_s) for p in parties}
        give_up = time.monotonic() + deadline_s + 1.0
        replies: dict[str, Reply] = {}
        failed: list[str] = []
        for party, future in futures.items():
            try:
                replies[party] = read(future.result(timeout=max(0.0, give_up - time.monotonic())))
            except grpc.FutureTimeoutError:
                future.cancel()
                failed.append(party)
            except grpc.RpcError as exc:
                log.warning(f"{what} failed", extra={"source": party, "code": exc.code().name})
                failed.append(party)
            except ReplyRefused as exc:
                log.error(f"{what} reply refused", extra={"source": party, "error": str(exc)})
                failed.append(party)
        return FanOut(replies, tuple(sorted(failed)))

    def _stub(self, party: str) -> scoring_pb2_grpc.PartyScoringStub:
        endpoint = self.sources[party]
        return scoring_pb2_grpc.PartyScoringStub(self._channels.get(endpoint.address, Identity.parse(party)))
