"""What the platform keeps of each source's linear part (vertical LR, scorecard) to score without it.

Each source computes, at training, two aggregates of its own part over the training rows: the mean of its
contribution (log-odds for LR, points for a scorecard) and its standard deviation; it sends them with every
scoring answer. The platform keeps the latest of each, in memory and beside the model (`stats-<party>.json`),
so that when a source does not answer in time it can put that source's contribution at its training mean
and say how much of the model's importance (its share of the parties' spreads) is missing.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("xyd.platform.scoring")


@dataclass(frozen=True)
class PartStats:
    """A party's training mean and spread (standard deviation) of its contribution."""

    mean: float
    spread: float

    def usable(self) -> bool:
        return math.isfinite(self.mean) and math.isfinite(self.spread) and self.spread >= 0


class PartyStatsStore:
    """The latest training aggregates of each source of one model; `folder` keeps them across restarts."""

    def __init__(self, parties: Sequence[str], folder: Path | None) -> None:
        self._folder = folder
        self._lock = threading.Lock()  # replies are read on the event loop and on the coalescer's threads
        self._stats: dict[str, PartStats] = {}
        for party in parties:
            path = self._path(party)
            if path is not None and path.exists():
                try:
                    raw = json.loads(path.read_text())
                    stats = PartStats(float(raw["mean"]), float(raw["spread"]))
                except (ValueError, KeyError, TypeError):
                    log.warning("stored training aggregates unreadable", extra={"source": party})
                    continue
                if stats.usable():
                    self._stats[party] = stats

    def _path(self, party: str) -> Path | None:
        return None if self._folder is None else self._folder / f"stats-{party.replace('/', '-')}.json"

    def keep(self, party: str, stats: PartStats) -> None:
        """Remember a source's aggregates (and write them beside the model when they change)."""
        if not stats.usable():
            log.warning("training aggregates refused", extra={"source": party})
            return
        if self._stats.get(party) == stats:
            return
        with self._lock:
            self._stats[party] = stats
            path = self._path(party)
            if path is not None:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"mean": stats.mean, "spread": stats.spread}))
                tmp.replace(path)

    def get(self, party: str) -> PartStats | None:
        return self._stats.get(party)

    def knows(self, parties: Sequence[str]) -> bool:
        return all(p in self._stats for p in parties)

    def missing_importance(self, own_spread: float, parties: Sequence[str], all_parties: Sequence[str]) -> float:
        """`parties`' share of the sum of every party's spread (the platform's own `own_spread` included);
        1.0 when a spread is unknown (the worst case, so degrade_below refuses)."""
        if not self.knows(all_parties):
            return 1.0
        total = own_spread + sum(self._stats[p].spread for p in all_parties)
        if total <= 0:
            return 0.0
        return float(min(1.0, sum(self._stats[p].spread for p in parties) / total))

