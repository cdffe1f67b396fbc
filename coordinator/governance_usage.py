"""Usage lines in the coordinator's governance log: each source's governed stages (the line the node put in its
stage result, appended as the node wrote it), the platform's reported answers, and the evidence a source node
asks for: its lines with their leaves, inclusion proofs and a checkpoint signed with the log key (bound to the
coordinator's certificate, so the node checks it against the CA)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from consent.audit import AuditLog, Ed25519Signer
from consent.audit.checkpoint import Checkpoint, sign_checkpoint
from consent.authorisation.codec import parse_canonical
from consent.governance.usage_lines import GOVERNANCE_LOG_NAME as LOG_NAME
from consent.governance.usage_lines import UsageError, UsageKind, UsageLines, line_bytes
from federation.key_binding import KeyPurpose, bind_keys, load_or_create_ed25519, raw_public
from federation.pki import NodeTls
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
    """Appends usage lines and serves a source's own lines with proofs."""

    def __init__(self, engine, log_: AuditLog, *, tls: NodeTls | None, key_path: Path | None) -> None:
        self.lines = UsageLines(engine, log_)
        self.lines.create_schema()
        self._log = log_
        self._signer = None
        self._binding = None
        if key_path is not None:
            key = load_or_create_ed25519(key_path)
            self._signer = Ed25519Signer(LOG_NAME, key)
            if tls is not None:
                self._binding = bind_keys(tls, {KeyPurpose.AUDIT_LOG: raw_public(key)})

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

    def evidence(self, source: str, first_day: str, last_day: str, *, now: datetime) -> control_pb2.UsageEvidence:
        """`source`'s lines for the days, each with its leaf and inclusion proof under a checkpoint signed now."""
        if self._signer is None:
            raise UsageError("this coordinator has no governance log key")
        head = self._log.tree_head()
        note = sign_checkpoint(Checkpoint(LOG_NAME, head.size, head.root), self._signer)
        with self._log.engine.begin() as conn:
            self._log.record_checkpoint(conn, head.size, note, now=now)
        items = []
        for index, line in self.lines.of(source, first_day, last_day):
            if index >= head.size:
                continue  # appended after the checkpoint: in the next report
            items.append(control_pb2.UsageItem(line=line, leaf=self._log.leaf(index).leaf, index=index,
                                               proof=self._log.inclusion_proof(index, head.size)))
        return control_pb2.UsageEvidence(
            log_key_binding=self._binding.SerializeToString() if self._binding is not None else b"",
            checkpoint=note, items=items)

