"""Usage lines, leaves of the platform's one audit log: each source's governed stages (the line the node put in its
stage result, appended as the node wrote it), the platform's reported answers, and the evidence a source node
asks for: its lines with their leaves and inclusion proofs under the platform's checkpoint, signed with the log
key (bound to the platform's certificate, so the node checks it against the CA) and cosigned by witnesses."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent.authorisation.codec import parse_canonical
from consent.governance.outbox import GovernanceOutbox
from consent.governance.usage_lines import UsageError, UsageKind, UsageLines, line_bytes
from coordinator.governance_forwarding import GovernanceForwarder, PlatformLog
from errors import Unavailable
from federation.proto import control_pb2

log = logging.getLogger("xyd.coordinator.usage")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ANSWER_KEYS = {"kind", "source", "model_id", "institution", "purpose", "day", "count"}
_TASK_KEYS = {"kind", "source", "job_id", "stage", "approval_id", "rows", "items", "model_id", "day"}


def checked_line(text: str | bytes, *, kinds: set[str]) -> dict[str, Any]:
    """A usage line exactly as canonical JSON, with the fields its kind has; raises `UsageError`."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        line = parse_canonical(raw)
    except Exception as exc:  # noqa: BLE001 - any malformed line is refused the same way
        raise UsageError(f"a usage line is not canonical JSON: {exc}") from None
    kind = line.get("kind")
    expected = _TASK_KEYS if kind == UsageKind.TASK.value else _ANSWER_KEYS
    if kind not in kinds or set(line) != expected:
        raise UsageError(f"a usage line of kind {kind!r} with fields {sorted(line)}")
    if not str(line["source"]).startswith("source/"):
        raise UsageError("a usage line names a source unit")
    if not isinstance(line["day"], str) or not _DAY.fullmatch(line["day"]):
        raise UsageError("a usage line's day is YYYY-MM-DD")
    number = line["rows"] if kind == UsageKind.TASK.value else line["count"]
    if isinstance(number, bool) or not isinstance(number, int) or number < (0 if kind == UsageKind.TASK.value else 1):
        raise UsageError("a usage line counts whole rows or answers")
    return line


class UsageDesk:
    """Records usage lines (their events go to the platform's one log) and serves a source's own lines with their
    leaves and inclusion proofs under the platform's cosigned checkpoint."""

    def __init__(self, engine, outbox: GovernanceOutbox, *, forwarder: GovernanceForwarder | None = None,
                 platform: PlatformLog | None = None) -> None:
        self.lines = UsageLines(engine, outbox)
        self.lines.create_schema()
        self._outbox = outbox
        self._forwarder = forwarder
        self._platform = platform

    def record_stage(self, job_id: str, stage: str, results: Mapping[str, Mapping[str, Any]], *, now: datetime
                     ) -> int:
        """The usage line each source put in its result of a finished stage, appended as the node wrote it."""
        found = []
        for party, result in results.items():
            line = result.get("usage_line") if isinstance(result, Mapping) else None
            if not party.startswith("source/") or line is None:
                continue
            try:
                checked = checked_line(line_bytes(line), kinds={UsageKind.TASK.value})
            except (UsageError, TypeError, ValueError) as exc:
                log.warning("usage line of %s refused: %s", party, exc)
                continue
            if checked["source"] != party or checked["job_id"] != job_id or checked["stage"] != stage:
                log.warning("usage line of %s names another party, job or stage", party)
                continue
            found.append(checked)
        if found:
            self.lines.append(found, actor="coordinator/main", now=now)
        return len(found)

    def report(self, caller: str, texts: list[str], *, now: datetime) -> int:
        """Answer lines the platform reports (score and verify counts)."""
        lines = [checked_line(t, kinds={UsageKind.SCORE.value, UsageKind.VERIFY.value}) for t in texts]
        self.lines.append(lines, actor=caller, now=now)
        return len(lines)

    def evidence(self, source: str, first_day: str, last_day: str) -> control_pb2.UsageEvidence:
        """`source`'s lines for the days, each with its leaf in the platform's one log and its inclusion proof under
        the platform's newest cosigned checkpoint; lines not yet covered are counted as pending."""
        if self._platform is None or self._forwarder is None:
            raise UsageError("this coordinator does not reach the platform's audit log")
        try:
            self._forwarder.flush()
        except Unavailable as exc:  # what was forwarded before still has its proofs
            log.warning("usage evidence without the newest events: %s", exc)
        lines = self.lines.of(source, first_day, last_day)
        entries = self._outbox.entries([seq for seq, _ in lines])
        at = {seq: entries[seq].leaf_index for seq, _ in lines if seq in entries and entries[seq].leaf_index is not None}
        reply = self._platform.proofs(sorted(at.values()))
        proofs = {int(p.index): p for p in reply.proofs}
        items = []
        for seq, line in lines:
            proof = proofs.get(at.get(seq, -1))
            if proof is not None:
                items.append(control_pb2.UsageItem(line=line, leaf=proof.leaf, index=proof.index, proof=proof.proof))
        return control_pb2.UsageEvidence(
            log_key_binding=reply.registry_keys.SerializeToString(), checkpoint=reply.note, items=items,
            witness_bindings=[w.SerializeToString() for w in reply.witnesses], quorum=reply.quorum,
            pending=len(lines) - len(items))
