"""A source node's reconciliation of its usage lines (leaves of the platform's one audit log, with inclusion proofs
under a signed, witnessed checkpoint) with its own record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consent.audit.errors import EventRejected
from consent.audit.events import AuditEvent, sha256_hex
from consent.authorisation.codec import parse_canonical
from consent.governance.errors import GovernanceError
from consent.governance.usage_lines import UsageKind, line_bytes
from consent.merkle import ProofError, leaf_hash, verify_inclusion


@dataclass(frozen=True)
class Evidence:
    """One usage line as the coordinator serves it: the line, its leaf, its index and inclusion proof."""

    line: bytes
    leaf: bytes
    index: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class Difference:
    what: str  # altered_line | not_in_log | not_in_own_record | count_differs | bad_proof | foreign_line
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, **self.detail}


@dataclass(frozen=True)
class UsageReport:
    source: str
    first_day: str
    last_day: str
    tree_size: int
    tasks: tuple[dict[str, Any], ...]
    answers: tuple[dict[str, Any], ...]
    differences: tuple[Difference, ...]
    pending: int = 0  # lines the coordinator recorded that no cosigned checkpoint covers yet
    witnesses: int = 0  # cosignatures the checkpoint was required to carry (and did)

    @property
    def verified(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "from": self.first_day, "to": self.last_day, "tree_size": self.tree_size,
                "pending": self.pending, "witnesses": self.witnesses, "verified": self.verified, "tasks": list(self.tasks), "answers": list(self.answers),
                "differences": [d.to_json() for d in self.differences]}

    def csv_rows(self) -> list[list[str]]:
        return self.rows_of(self.to_json())

    @staticmethod
    def rows_of(report: Mapping[str, Any]) -> list[list[str]]:
        """CSV rows of a report's JSON form, one per line: section, day, kind, approval, model, job, stage,
        institution, purpose, rows or log count, own count, leaf index(es), status."""
        rows = [["section", "day", "kind", "approval_id", "model_id", "job_id", "stage", "institution", "purpose",
                 "rows_or_log_count", "own_count", "leaf_index", "status"]]
        for t in report["tasks"]:
            leaf = t.get("leaf_index")
            rows.append(["task", t["day"], "task", t["approval_id"], t.get("model_id", ""), t["job_id"], t["stage"],
                         "", "", str(t["rows"]), "", "" if leaf is None else str(leaf), t["status"]])
        for a in report["answers"]:
            rows.append(["answers", a["day"], a["kind"], a.get("approval_id", ""), a["model_id"], "", "",
                         a["institution"], a["purpose"], str(a["log_count"]), str(a["own_count"]),
                         " ".join(str(i) for i in a["leaf_indexes"]), a["status"]])
        for d in report["differences"]:
            rows.append(["difference", str(d.get("day", "")), d["what"], "", str(d.get("model_id", "")),
                         str(d.get("job_id", "")), str(d.get("stage", "")), str(d.get("institution", "")),
                         str(d.get("purpose", "")), "", "", str(d.get("leaf_index", "")), "DIFFERS"])
        return rows


def _answer_key(line: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    return (line["day"], line["kind"], line.get("model_id", ""), line.get("institution", ""), line.get("purpose", ""))


def reconcile(source: str, first_day: str, last_day: str, evidence: Sequence[Evidence], *, tree_size: int,
              root: bytes, own_tasks: Sequence[Mapping[str, Any]], own_answers: Sequence[Mapping[str, Any]],
              pending: int = 0, witnesses: int = 0) -> UsageReport:
    """Check every line against its leaf and the leaf against the signed root; compare with the own record.

    Preconditions: `root` is the root of a checkpoint of size `tree_size` whose signature the caller verified.
    """
    differences: list[Difference] = []
    tasks: dict[tuple[str, str], dict[str, Any]] = {}
    logged: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for item in evidence:
        try:
            event = AuditEvent.from_leaf(item.leaf)
            line = parse_canonical(item.line)
        except (EventRejected, GovernanceError, Exception) as exc:  # noqa: BLE001 - any unreadable line differs
            differences.append(Difference("altered_line", {"leaf_index": item.index, "error": type(exc).__name__}))
            continue
        if event.digest_map.get("line") != sha256_hex(item.line):
            differences.append(Difference("altered_line", {"leaf_index": item.index, **_ids(line)}))
            continue
        if event.source_unit != source or line.get("source") != source:
            differences.append(Difference("foreign_line", {"leaf_index": item.index}))
            continue
        try:
            verify_inclusion(leaf_hash(item.leaf), item.index, tree_size, list(item.proof), root)
        except ProofError:
            differences.append(Difference("bad_proof", {"leaf_index": item.index, **_ids(line)}))
            continue
        if line["kind"] == UsageKind.TASK.value:
            tasks[(line["job_id"], line["stage"])] = {**line, "leaf_index": item.index}
        else:
            entry = logged.setdefault(_answer_key(line), {"count": 0, "leaf_indexes": []})
            entry["count"] += int(line["count"])
            entry["leaf_indexes"].append(item.index)
    own_by_key = {(t["job_id"], t["stage"]): t for t in own_tasks}
    task_rows = []
    for key, line in sorted(tasks.items()):
        own = own_by_key.get(key)
        status = "OK" if own is not None and line_bytes({k: v for k, v in line.items() if k != "leaf_index"}) \
            == line_bytes(own) else "DIFFERS"
        if own is None:
            differences.append(Difference("not_in_own_record", _ids(line) | {"leaf_index": line["leaf_index"]}))
        elif status != "OK":
            differences.append(Difference("task_differs", _ids(line) | {"leaf_index": line["leaf_index"]}))
        task_rows.append({**line, "status": status})
    for key, own in sorted(own_by_key.items()):
        if key not in tasks:
            differences.append(Difference("not_in_log", _ids(own)))
            task_rows.append({**own, "leaf_index": None, "status": "NOT_IN_LOG"})
    own_counts: dict[tuple[str, str, str, str, str], tuple[int, str]] = {}
    for a in own_answers:
        count, approval = own_counts.get(_answer_key(a), (0, a.get("approval_id", "")))
        own_counts[_answer_key(a)] = (count + int(a["count"]), approval)
    answer_rows = []
    for key in sorted(set(logged) | set(own_counts)):
        log_count = logged.get(key, {}).get("count", 0)
        own_count, approval = own_counts.get(key, (0, ""))
        day, kind, model_id, institution, purpose = key
        row = {"day": day, "kind": kind, "model_id": model_id, "institution": institution, "purpose": purpose,
               "approval_id": approval, "log_count": log_count, "own_count": own_count,
               "leaf_indexes": logged.get(key, {}).get("leaf_indexes", []),
               "status": "OK" if log_count == own_count else "DIFFERS"}
        if log_count != own_count:
            differences.append(Difference("count_differs", {k: row[k] for k in (
                "day", "kind", "model_id", "institution", "purpose", "log_count", "own_count")}))
        answer_rows.append(row)
    return UsageReport(source, first_day, last_day, tree_size, tuple(task_rows), tuple(answer_rows),
                       tuple(differences), pending, witnesses)


def _ids(line: Mapping[str, Any]) -> dict[str, Any]:
    return {k: line[k] for k in ("day", "kind", "job_id", "stage", "model_id", "institution", "purpose")
            if k in line}

