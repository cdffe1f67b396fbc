"""Stage handlers under approval: admit the task against the node's own store before it touches data, hand the
handler only the approved, shared columns, and re-check the approval at every message it sends or receives.

A refused task fails with the refusal code as its error code (`TaskFailed(code, ...)`), which the job's state
and `xyd job show` display. A revocation or suspension while a task runs fails it with APPROVAL_REVOKED at
its next message: the node sends nothing more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.message import Message

from consent.governance import Approval, ApprovalRefused, Task, TaskKind
from consent.governance.usage_lines import task_line
from federation.channel import Channel
from federation.job_files import intersection_path, model_dir
from federation.tasks import Handler, TaskContext, TaskFailed
from jobspec.settings import SettingsError, StageParams
from source_node.governance.node_governance import SourceGovernance
from tables import LoadedTable

log = logging.getLogger("xyd.source.governance")
M = TypeVar("M", bound=Message)
APPROVAL_FILE = "approval.json"


class GovernedChannel(Channel):
    """A task's channel that asks `still_approved()` before each send and after each receive."""

    def __init__(self, inner: Channel, still_approved: Callable[[], None]) -> None:
        self._inner = inner
        self._check = still_approved
        self.me = inner.me

    @property
    def parties(self) -> tuple[str, ...]:
        return self._inner.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self._check()
        self._inner.send(to, tag, message)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        message = self._inner.recv(frm, tag, message_type, timeout)
        self._check()
        return message


def task_of(ctx: TaskContext, kind: TaskKind, party: str, rows: int) -> Task:
    """The task as the node's policy sees it: who leads, who else takes part, which algorithm and items."""
    params = ctx.params
    leader = str(params.get("active", ""))
    algorithm, key_bits = _algorithm_and_key_bits(params)
    items = params.get("items") or {}
    asked = items.get(party) if isinstance(items, Mapping) else None
    project = params.get("project")
    return Task(
        kind=kind, leader=leader, algorithm=algorithm, project=str(project) if project else None,
        counterparties=tuple(sorted(set(ctx.peers) - {party, leader})),
        key_bits=key_bits,
        # The items the job asks for are checked at every stage, PSI included: a job the approval does not
        # cover is refused before it matches a single id.
        items=tuple(str(i) for i in asked) if isinstance(asked, list) else None,
        rows=rows,
    )


def _algorithm_and_key_bits(params: Mapping[str, Any]) -> tuple[str, int]:
    """The job's algorithm and HE key size as the stage's parameters state them ("psi", 0 for a matching job)."""
    try:
        train = StageParams.parse(params).train
    except SettingsError as exc:
        raise TaskFailed("BAD_PARAMS", str(exc)) from None
    return ("psi", 0) if train is None else (train.algorithm.value, train.key.key_bits)


def _rows(kind: TaskKind, ctx: TaskContext, table: LoadedTable) -> int:
    """Rows the stage reads: the whole id column for PSI, the shared rows after it, none to publish."""
    if kind is TaskKind.PSI:
        return len(table)
    if kind is TaskKind.PUBLISH:
        return 0
    path = intersection_path(ctx.work_dir)
    if not path.exists():
        return 0
    text = path.read_text(encoding="utf-8")
    return len(text.split()) if text else 0


def _refused(governance: SourceGovernance, ctx: TaskContext, exc: ApprovalRefused) -> TaskFailed:
    log.warning("task refused", extra={"job": ctx.job_id, "stage": ctx.stage, "code": exc.code.value,
                                       "detail": exc.detail})
    return TaskFailed(exc.code.value, f"{governance.party} refused the {ctx.stage} stage: {exc.detail}")


def governed(governance: SourceGovernance, stage: str, factory: Callable[[LoadedTable], Handler]) -> Handler:
    """The handler of `stage`, built per task by `factory` over the approved columns only."""
    kind = TaskKind(stage)

    def handle(ctx: TaskContext) -> dict[str, Any]:
        rows = _rows(kind, ctx, governance.table)
        try:
            approval = governance.policy.check(task_of(ctx, kind, governance.party, rows))
        except ApprovalRefused as exc:
            raise _refused(governance, ctx, exc) from None

        def still_approved() -> None:
            try:
                governance.policy.recheck(approval)
            except ApprovalRefused as exc:
                raise _refused(governance, ctx, exc) from None

        ctx.channel = GovernedChannel(ctx.channel, still_approved)
        view = governance.table.restricted(approval.items)
        log.info("task admitted", extra={"job": ctx.job_id, "stage": stage, "approval": approval.approval_id,
                                         "items": len(view.schema.columns), "rows": rows})
        result = dict(factory(view)(ctx))
        model_id = str(result.get("model_id", "")) if kind is TaskKind.PUBLISH else ""
        if model_id:
            record_model_approval(model_dir(ctx.work_dir, model_id), approval, ctx)
        # The node's own record of what it ran; the same line goes to the coordinator's governance log.
        line = task_line(source=governance.party, job_id=ctx.job_id, stage=stage, approval_id=approval.approval_id,
                         rows=rows, items=view.schema.column_names, model_id=model_id, at=governance.clock())
        governance.usage.record_task(line)
        return {**result, "approval_id": approval.approval_id, "items": list(view.schema.column_names),
                "rows_used": rows, "usage_line": line}

    return handle


def record_model_approval(folder: Path, approval: Approval, ctx: TaskContext) -> None:
    """Beside a published part: the approval it was built under, which online scoring checks on every answer."""
    algorithm, key_bits = _algorithm_and_key_bits(ctx.params)
    record = {"approval_id": approval.approval_id, "project": approval.terms.project,
              "algorithm": algorithm, "key_bits": key_bits, "job_id": ctx.job_id}
    (folder / APPROVAL_FILE).write_text(json.dumps(record, sort_keys=True), encoding="utf-8")


def read_model_approval(folder: Path) -> dict[str, Any] | None:
    """The approval record of a published part, or None (a part published without one is never served)."""
    path = folder / APPROVAL_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("approval_id"), str) else None
