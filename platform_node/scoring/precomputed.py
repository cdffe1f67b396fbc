"""Precomputed private scoring: each source's answers for every enterprise it holds, fetched ahead, so that no
score asks a source anything (docs/protocols/private-scoring.md).

A `Snapshot` is one source's complete table for one model part under one data snapshot, with the approval's
end and serving scope. `PrecomputedTables` keeps the current one per source and replaces it whole, only once a
newer one has arrived complete: a score reads one snapshot per source from start to end, never a mix.
`TableRefresher` asks every source again every `refresh_s` (the source answers `unchanged` with a renewed end
when its snapshot is current); a refusal (approval suspended, revoked, expired, or serving withdrawn) drops
the source's table at once, and a table is never used past its `valid_until` (the approval's end, or the
source's maximum age), so a revocation stops its use within one refresh interval at the latest.

Generic over what a source answers per enterprise (`rows`, an `AnswerRows`): SecureBoost leaf masks
(`MaskRows`), scorecard points (`PointsRows`), vertical-LR partial scores (`LinearRows`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc
import numpy as np

from federation.grpc_channel import PeerChannels
from federation.pki import Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc
from platform_node.scoring.linear_rows import LinearRows
from platform_node.scoring.mask_rows import MaskRows
from platform_node.scoring.points_rows import PointsRows
from platform_node.scoring.source_fanout import ReplyRefused, SourceEndpoint

log = logging.getLogger("xyd.platform.scoring")


class AnswerRows(Protocol):
    """A source's answers for every enterprise it holds, plus a last row for one it does not."""

    @property
    def n_rows(self) -> int: ...

    def reply(self, rows: np.ndarray, snapshot: str) -> object:
        """The source's reply for `rows` (-1: an enterprise it does not hold), as the scorer reads replies."""


@dataclass(frozen=True)
class Snapshot:
    """One source's precomputed answers for one model part, as of one data snapshot."""

    source: str
    model_id: str
    snapshot: str
    index: dict[str, int]  # credit code -> row
    rows: AnswerRows
    approval_id: str
    valid_until: float  # unix seconds
    institutions: frozenset[str]
    institution_kinds: frozenset[str]

    def serves(self, institution: str, now: float) -> bool:
        """Whether this table may answer for `institution` at `now` (the approval's scope and end)."""
        if now >= self.valid_until:
            return False
        if not self.approval_id:  # a source without governance (tests, the sandbox without approvals)
            return True
        return institution in self.institutions or institution.split("/")[0] in self.institution_kinds

    def reply(self, credit_codes: Sequence[str]) -> object:
        """The answer the source would give for `credit_codes`, from this snapshot alone."""
        rows = np.fromiter((self.index.get(c, -1) for c in credit_codes), dtype=np.intp, count=len(credit_codes))
        return self.rows.reply(rows, self.snapshot)

    def renewed(self, valid_until: float) -> Snapshot:
        return Snapshot(self.source, self.model_id, self.snapshot, self.index, self.rows, self.approval_id,
                        valid_until, self.institutions, self.institution_kinds)


def read_table(source: str, model_id: str, chunks, held: Snapshot | None) -> Snapshot:
    """A complete table from a `Decisions` stream (or `held` renewed if the source says it is unchanged);
    refuses a stream that changes snapshot, misses rows or ends early."""
    header: scoring_pb2.DecisionChunk | None = None
    ids: list[str] = []
    parts: list = []
    for chunk in chunks:
        if header is None:
            header = chunk
            if chunk.unchanged:
                if held is None or held.snapshot != chunk.snapshot:
                    raise ReplyRefused("unchanged, but not the snapshot held")
                return held.renewed(chunk.valid_until)
        elif chunk.snapshot != header.snapshot:
            raise ReplyRefused("a table's chunks from two snapshots")
        ids.extend(chunk.ids)
        if header.HasField("absent"):
            part, n = chunk.points, len(chunk.points.points)
        elif header.HasField("linear_absent"):
            part, n = chunk.linear, len(chunk.linear.scores)
        else:
            part, n = chunk.masks, chunk.masks.n_rows
        parts.append(part)
        if len(chunk.ids) != n:
            raise ReplyRefused("a chunk's ids and rows differ in number")
        if chunk.last:
            break
    else:
        raise ReplyRefused("the table ended before its last chunk")
    if len(ids) != header.rows_total or len(set(ids)) != len(ids):
        raise ReplyRefused(f"{len(ids)} distinct rows of a table of {header.rows_total}")
    if header.HasField("absent"):
        rows: AnswerRows = PointsRows.of(parts, header.absent)
    elif header.HasField("linear_absent"):
        rows = LinearRows.of(parts, header.linear_absent)
    else:
        rows = MaskRows.of(parts, header.defaults, header.split_items)
    if rows.n_rows != len(ids):
        raise ReplyRefused("a table whose rows and ids differ in number")
    return Snapshot(source, model_id, header.snapshot, {cid: i for i, cid in enumerate(ids)}, rows,
                    header.approval_id, header.valid_until, frozenset(header.institutions),
                    frozenset(header.institution_kinds))


class PrecomputedTables:
    """The current table of each source for one model; replaced whole (a dict entry swap)."""

    def __init__(self, model_id: str, sources: Sequence[SourceEndpoint], channels: PeerChannels,
                 fetch_timeout_s: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        self.model_id = model_id
        self._sources = {s.party: s for s in sources}
        self._channels = channels
        self._timeout = fetch_timeout_s
        self._clock = clock
        self._current: dict[str, Snapshot] = {}

    def current(self, source: str) -> Snapshot | None:
        return self._current.get(source)

    def usable(self, source: str, institution: str) -> tuple[Snapshot | None, bool]:
        """(the table to answer for `institution` now, or None; whether the source's approval refuses it)."""
        snapshot = self._current.get(source)
        if snapshot is None:
            return None, False
        if snapshot.serves(institution, self._clock()):
            return snapshot, False
        return None, True

    def refresh(self, source: str) -> Snapshot | None:
        """Ask `source` for its newest table; keep it if complete. A refusal drops the source's table."""
        held = self._current.get(source)
        endpoint = self._sources[source]
        stub = scoring_pb2_grpc.PartyScoringStub(self._channels.get(endpoint.address, Identity.parse(source)))
        request = scoring_pb2.DecisionsRequest(model_id=self.model_id, have_snapshot=held.snapshot if held else "")
        try:
            table = read_table(source, self.model_id, stub.Decisions(request, timeout=self._timeout), held)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                if self._current.pop(source, None) is not None:
                    log.warning("precomputed table dropped", extra={"source": source, "code": exc.code().name})
            else:
                log.warning("precomputed table not refreshed", extra={"source": source, "code": exc.code().name})
            return self._current.get(source)
        except ReplyRefused as exc:
            log.error("precomputed table refused", extra={"source": source, "error": str(exc)})
            return self._current.get(source)
        if held is None or held.snapshot != table.snapshot:
            log.info("precomputed table in use", extra={"source": source, "snapshot": table.snapshot,
                                                        "rows": table.rows.n_rows})
        self._current[source] = table
        return table

    def refresh_all(self) -> None:
        for source in self._sources:
            self.refresh(source)


class TableRefresher:
    """Refreshes `tables` from every source every `every_s` seconds, on a thread of its own."""

    def __init__(self, tables: PrecomputedTables, every_s: float) -> None:
        self._tables = tables
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xyd-precomputed-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._tables.refresh_all()
            except Exception as exc:  # a refresh must never end the loop: the tables keep their valid_until
                log.error("precomputed refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
