"""A source's SecureBoost answers held row by row at the platform, to pick any enterprises' rows out of.

Precomputed mode keeps one per (source, model) snapshot and builds each score's `MaskReply` from it; cover mode
narrows a reply for a cover group back to the real enterprises. The bytes are the source's own, re-arranged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import scoring_pb2, secureboost_pb2
from platform_node.scoring.source_fanout import ReplyRefused


@dataclass(frozen=True)
class MaskRows:
    """Per tree, a (rows + 1, width) uint8 array of packed leaf masks; the extra last row is the source's
    defaults (what it answers for an enterprise it does not hold). With the defaults and split items as sent."""

    party: str
    n_leaves: tuple[int, ...]
    trees: tuple[np.ndarray, ...]
    defaults: secureboost_pb2.LeafMasks
    split_items: tuple[scoring_pb2.SplitItem, ...] = ()

    @property
    def n_rows(self) -> int:
        return self.trees[0].shape[0] - 1 if self.trees else 0

    @classmethod
    def of(cls, chunks: Sequence[secureboost_pb2.LeafMasks], defaults: secureboost_pb2.LeafMasks,
           split_items: Sequence[scoring_pb2.SplitItem] = ()) -> MaskRows:
        """The rows of `chunks` in order, then the one-row `defaults`; refuses masks of inconsistent shape."""
        if defaults.n_rows != 1:
            raise ReplyRefused("default masks must hold one row")
        n_leaves = tuple(t.n_leaves for t in defaults.trees)
        trees = []
        for t, n in enumerate(n_leaves):
            width = (n + 7) // 8
            parts = []
            for masks in (*chunks, defaults):
                if len(masks.trees) != len(n_leaves) or masks.trees[t].n_leaves != n \
                        or len(masks.trees[t].bits) != masks.n_rows * width:
                    raise ReplyRefused("leaf masks of inconsistent shape")
                parts.append(np.frombuffer(masks.trees[t].bits, dtype=np.uint8).reshape(masks.n_rows, width))
            trees.append(np.concatenate(parts))
        return cls(defaults.party, n_leaves, tuple(trees), defaults, tuple(split_items))

    def select(self, rows: np.ndarray) -> secureboost_pb2.LeafMasks:
        """The masks of `rows` (indices; -1: an enterprise the source does not hold, its defaults)."""
        picked = np.where(rows < 0, self.n_rows, rows)
        out = secureboost_pb2.LeafMasks(party=self.party, n_rows=len(rows))
        for t, (n, array) in enumerate(zip(self.n_leaves, self.trees, strict=True)):
            out.trees.add(tree=t, n_leaves=n, bits=array[picked].tobytes())
        return out

    def reply(self, rows: np.ndarray, snapshot: str) -> scoring_pb2.MaskReply:
        """The answer the source would give for `rows` (-1: not held), stamped with its snapshot."""
        return scoring_pb2.MaskReply(masks=self.select(rows), known=np.packbits(rows >= 0, bitorder="little").tobytes(),
                                     defaults=self.defaults, split_items=self.split_items, snapshot=snapshot)


def narrowed(reply: scoring_pb2.MaskReply, rows: np.ndarray) -> scoring_pb2.MaskReply:
    """`reply` (for a cover batch) reduced, in place, to `rows` of it in that order: masks and `known` bits."""
    n = reply.masks.n_rows
    if len(reply.known) != (n + 7) // 8 or (len(rows) and int(rows.max()) >= n):
        raise ReplyRefused("a reply for another number of enterprises")
    few = len(rows) <= 64  # a handful of rows (single scores): byte slices beat building arrays
    for tree in reply.masks.trees:
        width = (tree.n_leaves + 7) // 8
        bits = tree.bits
        if len(bits) != n * width:
            raise ReplyRefused("leaf masks of inconsistent shape")
        tree.bits = (b"".join(bits[r * width: (r + 1) * width] for r in rows.tolist()) if few
                     else np.frombuffer(bits, dtype=np.uint8).reshape(n, width)[rows].tobytes())
    reply.masks.n_rows = len(rows)
    known = np.unpackbits(np.frombuffer(reply.known, dtype=np.uint8), count=n, bitorder="little")
    reply.known = np.packbits(known[rows], bitorder="little").tobytes()
    return reply
