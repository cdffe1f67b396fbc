"""A source's vertical-LR answers held row by row at the platform (precomputed mode), and a reply narrowed back
to the real enterprises (cover mode): the same partial scores the source computed, re-arranged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import scoring_pb2
from platform_node.scoring.source_fanout import ReplyRefused


@dataclass(frozen=True)
class LinearRows:
    """Every held enterprise's partial score (and top item, when the source names items), then one last row:
    the answer for an enterprise the source lacks; with the source's training aggregates and named items."""

    scores: np.ndarray  # (rows + 1,) float64
    top_item: np.ndarray | None  # (rows + 1,) uint32, or None when the source names no item
    training_mean: float
    training_spread: float
    items: tuple[scoring_pb2.SplitItem, ...] = ()

    @property
    def n_rows(self) -> int:
        return len(self.scores) - 1

    @classmethod
    def of(cls, chunks: Sequence[scoring_pb2.LinearReply], absent: scoring_pb2.LinearReply) -> LinearRows:
        """The rows of `chunks` in order, then the one-row `absent`; refuses rows of inconsistent shape."""
        if len(absent.scores) != 1:
            raise ReplyRefused("the answer for an enterprise not held must be one row")
        named = bool(absent.top_item)
        parts = (*chunks, absent)
        for part in parts:
            if named != bool(part.top_item) or (named and len(part.top_item) != len(part.scores)):
                raise ReplyRefused("linear-score chunks of inconsistent shape")
        scores = np.concatenate([np.asarray(p.scores, dtype=np.float64) for p in parts])
        if not np.all(np.isfinite(scores)):
            raise ReplyRefused("a linear-score table holds non-finite scores")
        top = np.concatenate([np.asarray(p.top_item, dtype=np.uint32) for p in parts]) if named else None
        if top is not None and top.size and int(top.max()) > len(absent.items):
            raise ReplyRefused("a linear-score table names items it does not list")
        return cls(scores, top, absent.training_mean, absent.training_spread, tuple(absent.items))

    def reply(self, rows: np.ndarray, snapshot: str) -> scoring_pb2.LinearReply:
        """The answer the source would give for `rows` (-1: not held), stamped with its snapshot."""
        picked = np.where(rows < 0, self.n_rows, rows)
        reply = scoring_pb2.LinearReply(scores=self.scores[picked].tolist(),
                                        known=np.packbits(rows >= 0, bitorder="little").tobytes(),
                                        training_mean=self.training_mean, training_spread=self.training_spread,
                                        snapshot=snapshot)
        if self.top_item is not None:
            reply.items.extend(self.items)
            reply.top_item.extend(self.top_item[picked].tolist())
        return reply


def narrowed(reply: scoring_pb2.LinearReply, rows: np.ndarray) -> scoring_pb2.LinearReply:
    """`reply` (for a cover batch) reduced, in place, to `rows` of it in that order: scores, `known` bits and
    top items."""
    n = len(reply.scores)
    if len(reply.known) != (n + 7) // 8 or (len(rows) and int(rows.max()) >= n) \
            or (reply.top_item and len(reply.top_item) != n):
        raise ReplyRefused("a reply for another number of enterprises")
    picked = rows.tolist()
    scores = reply.scores
    kept = [scores[r] for r in picked]
    del reply.scores[:]
    reply.scores.extend(kept)
    if reply.top_item:
        top = [reply.top_item[r] for r in picked]
        del reply.top_item[:]
        reply.top_item.extend(top)
    known = np.unpackbits(np.frombuffer(reply.known, dtype=np.uint8), count=n, bitorder="little")
    reply.known = np.packbits(known[rows], bitorder="little").tobytes()
    return reply
