"""Audit cross-check: compare a source node's local use log with the registry's log.

Every use the source node answered must appear in the registry's log byte for byte (same leaf). Each
local entry ends up in exactly one bucket: matched (present, and provably included under the given
checkpoint), pending (present but newer than the checkpoint), unproven (present but the registry cannot
prove inclusion under its own checkpoint), altered (a leaf with the same use id and kind but other
content), or missing. With `source_unit`, registry uses attributed to that unit that the node never
recorded are reported as unexpected (uses the platform claims the source answered).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from consent.audit.checkpoint import Checkpoint
from consent.audit.errors import LogTamperedError, MissingUsesError
from consent.audit.events import AuditEvent, EventKind
from consent.audit.log import StoredLeaf
from consent.merkle import ProofError, leaf_hash, verify_inclusion

_CHUNK = 500


class RegistryLogView(Protocol):
    """What the cross-check needs from the registry's log (an `AuditLog`, or a remote read-only stub)."""

    def leaves_for_uses(self, use_ids: Collection[str]) -> list[StoredLeaf]: ...

    def find(self, *, kinds: Collection[EventKind] = (), source_unit: str | None = None) -> list[StoredLeaf]: ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]: ...


@dataclass(frozen=True)
class CrossCheckReport:
    """Outcome of one cross-check; `complete` is False if any local use is absent from the registry."""

    checked: int
    matched: tuple[tuple[AuditEvent, int], ...]
    pending: tuple[tuple[AuditEvent, int], ...]
    unproven: tuple[tuple[AuditEvent, int], ...]
    altered: tuple[tuple[AuditEvent, tuple[AuditEvent, ...]], ...]
    missing: tuple[AuditEvent, ...]
    unexpected: tuple[AuditEvent, ...]

    @property
    def complete(self) -> bool:
        return not (self.missing or self.altered or self.unproven)

    def raise_for_gaps(self) -> None:
        """Raise MissingUsesError if the registry lacks, altered or cannot prove any local use."""
        if not self.complete:
            raise MissingUsesError(len(self.missing), len(self.altered), len(self.unproven))


def _leaf_bytes(entry: AuditEvent | StoredLeaf | bytes) -> bytes:
    if isinstance(entry, AuditEvent):
        return entry.to_leaf()
    if isinstance(entry, StoredLeaf):
        return entry.leaf
    return bytes(entry)


def cross_check(
    registry: RegistryLogView,
    local_entries: Iterable[AuditEvent | StoredLeaf | bytes],
    *,
    checkpoint: Checkpoint | None = None,
    source_unit: str | None = None,
) -> CrossCheckReport:
    """Find every local use the registry's log is missing (see module docstring for the buckets).

    `checkpoint` must be one the caller verified (log signature and witness quorum); without it, presence
    is checked but not proven.
    """
    matched, pending, unproven, altered, missing = [], [], [], [], []
    local_leaves: set[bytes] = set()
    entries = [_leaf_bytes(e) for e in local_entries]
    for offset in range(0, len(entries), _CHUNK):
        chunk = [(leaf, AuditEvent.from_leaf(leaf)) for leaf in entries[offset : offset + _CHUNK]]
        for _leaf, event in chunk:
            if event.use_id is None:
                raise ValueError(f"local entry of kind {event.kind.value} has no use_id")
        found: dict[str, list[StoredLeaf]] = {}
        for stored in registry.leaves_for_uses({event.use_id for _, event in chunk if event.use_id}):
            found.setdefault(stored.event.use_id or "", []).append(stored)
        for leaf, event in chunk:
            local_leaves.add(leaf)
            candidates = found.get(event.use_id or "", [])
            exact = [c for c in candidates if c.leaf == leaf]
            if exact:
                _place(registry, checkpoint, event, leaf, exact[0].index, matched, pending, unproven)
                continue
            same_kind = tuple(c.event for c in candidates if c.event.kind == event.kind)
            if same_kind:
                altered.append((event, same_kind))
            else:
                missing.append(event)
    unexpected: list[AuditEvent] = []
    if source_unit is not None:
        kinds = {EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED}
        for stored in registry.find(kinds=kinds, source_unit=source_unit):
            if stored.leaf not in local_leaves:
                unexpected.append(stored.event)
    return CrossCheckReport(
        len(entries), tuple(matched), tuple(pending), tuple(unproven), tuple(altered), tuple(missing),
        tuple(unexpected),
    )


def _place(
    registry: RegistryLogView,
    checkpoint: Checkpoint | None,
    event: AuditEvent,
    leaf: bytes,
    index: int,
    matched: list[tuple[AuditEvent, int]],
    pending: list[tuple[AuditEvent, int]],
    unproven: list[tuple[AuditEvent, int]],
) -> None:
    if checkpoint is None:
        matched.append((event, index))
    elif index >= checkpoint.size:
        pending.append((event, index))
    else:
        try:
            proof: Sequence[bytes] = registry.inclusion_proof(index, checkpoint.size)
            verify_inclusion(leaf_hash(leaf), index, checkpoint.size, proof, checkpoint.root)
        except (ProofError, LogTamperedError):
            unproven.append((event, index))
        else:
            matched.append((event, index))
