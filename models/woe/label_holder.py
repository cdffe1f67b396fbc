"""The platform's protocol steps: encrypt labels, decrypt per-bin event sums, merge, WOE, IV and ranking.

Pure steps (no channel): `setup_messages` makes what is sent, `absorb_counts` takes what comes back, and
`outcomes` produces each party's answer. See docs/protocols/woe.md for what each party learns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import woe_pb2
from models.binning import BinningError, MergeRule, plan_merges
from models.he import (
    CipherVector,
    Decryptor,
    Encryptor,
    FixedPointCodec,
    PackingLayout,
    cipher_vector_from_message,
    cipher_vector_to_message,
    public_key_to_message,
)
from models.he.scheme import PublicKey
from models.woe.selection import RankedVariable, SelectionRule, rank_variables, ranking_view
from models.woe.variables import FineBins, OwnedVariable, VariableReport
from models.woe.woe_iv import DEFAULT_SMOOTHING, merge_counts, woe_table

FORMAT_VERSION = 1
DEFAULT_CHUNK_ROWS = 4096


def label_layout(rows: int) -> PackingLayout:
    """Integer slots wide enough for a sum over 4 * rows labels: room for the owners' clipped noise."""
    return PackingLayout.plan(FixedPointCodec(0, 1.0), slots=1, max_additions=4 * max(rows, 1))


@dataclass(frozen=True)
class WoeOptions:
    """How the label holder bins, merges, smooths and selects; `share_woe` lets owners learn their WOE and
    `publish_own_names` shows the label holder's own variable names to the other parties."""

    n_bins: int = 20
    merge: MergeRule = MergeRule()
    selection: SelectionRule = SelectionRule()
    share_woe: bool = True
    smoothing: float = DEFAULT_SMOOTHING
    publish_own_names: bool = False


@dataclass(frozen=True)
class _Counted:
    owner: str
    variable_id: str
    name: str | None
    category: str
    events: np.ndarray
    totals: np.ndarray
    has_missing: bool
    fine: FineBins | None = None


class WoeLabelHolder:
    """The platform: holds the labels and the Paillier secret key; never sees another party's cut points."""

    def __init__(self, party: str, labels: np.ndarray, options: WoeOptions) -> None:
        y = np.asarray(labels, dtype=np.float64).ravel()
        if y.size == 0 or not np.all((y == 0.0) | (y == 1.0)):
            raise BinningError("labels must be a non-empty 0/1 vector")
        if y.min() == y.max():
            raise BinningError("WOE needs both events and non-events")
        self.party = party
        self.labels = y
        self.options = options
        self._counted: dict[tuple[str, str], _Counted] = {}

    @property
    def rows(self) -> int:
        """Rows aligned across parties."""
        return int(self.labels.size)

    def setup_messages(self, encryptor: Encryptor, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
                       ) -> tuple[woe_pb2.LabelSetup, list[woe_pb2.LabelChunk]]:
        """Encrypt the labels (one ciphertext per row) in chunks for the feature owners."""
        layout = label_layout(self.rows)
        chunks = []
        for index, start in enumerate(range(0, self.rows, chunk_rows)):
            vector = encryptor.encrypt(self.labels[start : start + chunk_rows], layout)
            # The bound (1: a label is 0 or 1) is public; without it the owner must assume a full slot.
            chunks.append(woe_pb2.LabelChunk(index=index, labels=cipher_vector_to_message(vector, include_bound=True)))
        setup = woe_pb2.LabelSetup(format_version=FORMAT_VERSION, key=public_key_to_message(encryptor.key),
                                   rows=self.rows, chunks=len(chunks), share_woe=self.options.share_woe)
        return setup, chunks

    def count_own(self, variables: Sequence[FineBins]) -> None:
        """Count the label holder's own variables in the clear (no encryption needed at home)."""
        for fine in variables:
            if fine.index.size != self.rows:
                raise BinningError(f"{fine.name!r} has {fine.index.size} rows, labels have {self.rows}")
            events = np.bincount(fine.index, weights=self.labels, minlength=fine.bins.n_bins)
            self._add(_Counted(self.party, fine.variable_id, fine.name, fine.category, events, fine.totals,
                               fine.bins.has_missing, fine))

    def absorb_counts(self, owner: str, message: woe_pb2.BinCounts, key: PublicKey, decryptor: Decryptor) -> None:
        """Decrypt one owner's packed event sums and file them per variable."""
        vector: CipherVector = cipher_vector_from_message(message.events, key)
        sizes = [len(v.totals) for v in message.variables]
        if vector.rows != sum(sizes):
            raise BinningError(f"{owner} sent {vector.rows} sums for {sum(sizes)} bins")
        events = np.rint(decryptor.decrypt(vector))
        offset = 0
        for variable, size in zip(message.variables, sizes, strict=True):
            totals = np.asarray(variable.totals, dtype=np.float64)
            if totals.sum() != self.rows:
                raise BinningError(f"{owner}:{variable.variable_id} bins hold {totals.sum():.0f} rows, not {self.rows}")
            self._add(_Counted(owner, variable.variable_id, variable.name or None, variable.category,
                               events[offset : offset + size], totals, variable.has_missing))
            offset += size

    def fine_counts(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """(events, totals) per fine bin of every counted variable, keyed by (owner, variable_id)."""
        return {key: (c.events.copy(), c.totals.copy()) for key, c in self._counted.items()}

    def _add(self, counted: _Counted) -> None:
        key = (counted.owner, counted.variable_id)
        if key in self._counted:
            raise BinningError(f"variable {key} counted twice")
        self._counted[key] = counted

    def finish(self) -> tuple[list[VariableReport], list[RankedVariable]]:
        """Merge, compute WOE/IV of every variable, rank them and select."""
        merged = {}
        for key, c in self._counted.items():
            groups = plan_merges(c.events, c.totals, self.options.merge, has_missing=c.has_missing)
            table = woe_table(merge_counts(c.events, groups), merge_counts(c.totals, groups),
                              smoothing=self.options.smoothing)
            merged[key] = (groups, table)
        ranking = rank_variables(
            [(c.owner, c.variable_id, c.name if c.owner != self.party or self.options.publish_own_names else None,
              merged[k][1].iv)
             for k, c in self._counted.items()],
            self.options.selection,
        )
        by_key = {(r.owner, r.variable_id): r for r in ranking}
        reports = []
        for key, c in self._counted.items():
            groups, table = merged[key]
            bins = c.fine.bins.merged(groups) if c.fine is not None else None
            ranked = by_key[key]
            reports.append(VariableReport(c.owner, c.variable_id, c.name, c.category, tuple(groups), table,
                                          ranked.rank, ranked.selected, bins))
        reports.sort(key=lambda r: r.rank)
        return reports, ranking

    def own_variables(self, reports: Sequence[VariableReport]) -> list[OwnedVariable]:
        """The label holder's own variables as an owner holds them (merged bins with WOE)."""
        return [OwnedVariable(r.name or r.variable_id, r.variable_id, r.category, r.bins, r.table.woe, r.iv,
                              r.rank, r.selected)
                for r in reports if r.owner == self.party and r.bins is not None]

    def outcome_for(self, owner: str, reports: Sequence[VariableReport], ranking: Sequence[RankedVariable]
                    ) -> woe_pb2.BinningOutcome:
        """What `owner` is told: merge plans of its variables, their IV, rank, selection and (if the job
        allows) WOE; the ranking with other parties' variables opaque unless published."""
        message = woe_pb2.BinningOutcome()
        for r in reports:
            if r.owner != owner:
                continue
            message.variables.append(woe_pb2.VariableOutcome(
                variable_id=r.variable_id, groups=list(r.groups),
                woe=r.table.woe.tolist() if self.options.share_woe else [],
                iv=r.iv, rank=r.rank, selected=r.selected))
        for entry in ranking_view(ranking, owner):
            message.ranking.append(woe_pb2.RankEntry(variable=entry.variable, iv=entry.iv, rank=entry.rank,
                                                     selected=entry.selected, own=entry.own))
        return message

