"""The shape both online scorers share: one `PartyScoring` call per source, combined at the platform.

`score` fans out from the calling thread (batch scoring, monitoring); `score_async` does the same from the
bank API's event loop over asyncio channels (single scores). Subclasses say which method to call, how to
build the request and read a reply, and how to combine the parts; and, for private queries
(docs/protocols/private-scoring.md), whether the parts come from precomputed tables (no call at all) or the
ids sent are disguised (cover groups, each reply narrowed back to the real enterprises).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar, Generic

import numpy as np
from google.protobuf.message import Message

from consent.governance.usage_lines import UsageKind
from federation.grpc_channel import PeerChannels
from platform_node.scoring.cover import CoverGroups, cover_key
from platform_node.scoring.precomputed import PrecomputedTables, TableRefresher
from platform_node.scoring.privacy import PrivacyMode, PrivacySettings
from platform_node.scoring.scorer import ScoreBatch
from platform_node.scoring.source_fanout import FanOut, Reply, SourceFanOut
from platform_node.usage_reporting import AnswerCounter


class FanOutScorer(ABC, Generic[Reply]):
    METHOD: ClassVar[str]  # the PartyScoring method
    WHAT: ClassVar[str]  # how log lines name a source's part
    _fanout: SourceFanOut
    model_id: str
    usage: AnswerCounter | None = None  # counts each source's answers for the governance log
    privacy: PrivacySettings = PrivacySettings()
    _cover: CoverGroups | None = None
    _tables: PrecomputedTables | None = None
    _refresher: TableRefresher | None = None

    def _serve_privately(self, privacy: PrivacySettings | None, channels: PeerChannels, population: Iterable[str],
                         key_dir: Path | None) -> None:
        """Set up the deployment's private-query mode: cover groups over `population` (the platform's served
        enterprises; their key kept in `key_dir`), or the sources' precomputed tables, fetched now."""
        self.privacy = privacy or PrivacySettings()
        if self.privacy.mode is PrivacyMode.COVER:
            self._cover = CoverGroups(sorted(population), self.privacy.cover_k, cover_key(key_dir))
        elif self.privacy.mode is PrivacyMode.PRECOMPUTED:
            self._tables = PrecomputedTables(self.model_id, [self._fanout.sources[p] for p in self._asked()],
                                             channels, self.privacy.fetch_timeout_s)
            self._tables.refresh_all()
            self._refresher = TableRefresher(self._tables, self.privacy.refresh_s)

    @property
    def tables(self) -> PrecomputedTables | None:
        return self._tables

    def _stop_privately(self) -> None:
        if self._refresher is not None:
            self._refresher.close()

    def _count(self, fanout: FanOut[Reply], n: int, requester: str, purpose: str) -> None:
        if self.usage is not None:
            for party in fanout.replies:
                self.usage.count(UsageKind.SCORE, source=party, model_id=self.model_id, institution=requester,
                                 purpose=purpose, n=n)

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, use_id: str = "",
              requester: str = "") -> ScoreBatch:
        ids = list(credit_codes)
        if not ids:
            return ScoreBatch(())
        fanout = self._precomputed(ids, requester)
        if fanout is None:
            sent, narrow = self._disguised(ids)
            fanout = self._fanout.ask(self._asked(), self.METHOD, self._request(sent, use_id, requester, purpose),
                                      self._read(len(sent), narrow), deadline_s, what=self.WHAT)
        self._count(fanout, len(ids), requester, purpose)
        return self._combine(ids, fanout, purpose)

    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, use_id: str = "",
                          requester: str = "") -> ScoreBatch:
        """`score` from an asyncio event loop (the scorer must have been given asyncio channels)."""
        ids = list(credit_codes)
        if not ids:
            return ScoreBatch(())
        fanout = self._precomputed(ids, requester)
        if fanout is None:
            sent, narrow = self._disguised(ids)
            fanout = await self._fanout.ask_async(self._asked(), self.METHOD,
                                                  self._request(sent, use_id, requester, purpose),
                                                  self._read(len(sent), narrow), deadline_s, what=self.WHAT)
        self._count(fanout, len(ids), requester, purpose)
        return self._combine(ids, fanout, purpose)

    def _read(self, rows: int, narrow: Callable[[Reply], Reply] | None) -> Callable[[object], Reply]:
        read = self._reader(rows)
        return read if narrow is None else (lambda reply: narrow(read(reply)))

    def _precomputed(self, ids: list[str], requester: str) -> FanOut[Reply] | None:
        """Precomputed mode: every source's part from its current table (no call); None: ask the sources.
        A table outside its approval's scope or end counts as a refusal (never degraded around)."""
        if self._tables is None:
            return None
        replies, failed, refused = {}, [], []
        for party in self._asked():
            # One snapshot per source, taken once: a refresh landing now does not touch this score.
            snapshot, refuses = self._tables.usable(party, requester)
            if snapshot is None:
                failed.append(party)
                if refuses:
                    refused.append(party)
            else:
                replies[party] = snapshot.reply(ids)
        return FanOut(replies, tuple(sorted(failed)), tuple(sorted(refused)))

    def _disguised(self, ids: list[str]) -> tuple[list[str], Callable[[Reply], Reply] | None]:
        """The ids to send for `ids`, and how to narrow a reply back to `ids` (None: sent as they are)."""
        if self._cover is None:
            return ids, None
        sent, positions = self._cover.disguise(ids)
        return sent, lambda reply: self._narrow(reply, positions)

    def _narrow(self, reply: Reply, rows: np.ndarray) -> Reply:
        """A reply for a cover batch reduced to `rows` of it (cover mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no cover mode")

    @abstractmethod
    def _asked(self) -> Sequence[str]:
        """The sources that hold a part of the model."""

    @abstractmethod
    def _request(self, ids: list[str], use_id: str, requester: str, purpose: str) -> Message:
        """The request to each source: the institution that asked and its purpose go with the ids, since each
        source node admits the answer under its own approval."""

    @abstractmethod
    def _reader(self, rows: int) -> Callable[[object], Reply]:
        """Reads one source's reply for `rows` enterprises; raises `ReplyRefused` if it is unusable."""

    @abstractmethod
    def _combine(self, ids: list[str], fanout: FanOut[Reply], purpose: str) -> ScoreBatch:
        """The batch's results from the parts that arrived (and the availability policy of `purpose`)."""
