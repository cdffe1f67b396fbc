"""What each administrator page shows, read from the admin desk (`source_node/governance/admin.py`): one page of
the approvals, one approval with the actions its status allows, the catalogue, and the usage report's lines with
each line's verification status. Lists are cut into pages here, on the server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from consent.governance.lifecycle import ALLOWED_TRANSITIONS, ApprovalStatus
from consent.governance.usage_lines import UsageError
from source_node.governance.admin import MOVES, AdminDesk
from source_node.governance.usage_report import check_days

APPROVALS_PAGE = 20
CATALOGUE_PAGE = 50
USAGE_PAGE = 50
USAGE_DAYS = 30
STATUSES = tuple(s.value for s in ApprovalStatus)
CONDITIONS = ("unconditional", "conditional", "not_shared")
LINE_STATUSES = ("OK", "DIFFERS", "NOT_IN_LOG")


def offset_of(text: str | None) -> int:
    """A page's first row from `?offset=`; anything else is the first page."""
    return int(text) if text and text.isdigit() and len(text) < 10 else 0


def pager(offset: int, size: int, total: int) -> dict[str, Any]:
    return {"offset": offset, "first": offset + 1 if total else 0, "last": min(offset + size, total), "total": total,
            "previous": max(0, offset - size) if offset else None,
            "next": offset + size if offset + size < total else None}


def approvals_page(desk: AdminDesk, status: str | None, offset: int) -> dict[str, Any]:
    status = status if status in STATUSES else None
    rows, total = desk.page(status, offset=offset, limit=APPROVALS_PAGE)
    for row in rows:
        row["updated"] = datetime.fromisoformat(row["updated_at"])
    return {"approvals": rows, "status": status or "", "statuses": STATUSES,
            "pages": pager(offset, APPROVALS_PAGE, total)}


def actions_for(status: str) -> list[str]:
    """The console's actions that the approval's status allows (approve first), by the one transition table."""
    current = ApprovalStatus(status)
    allowed = {target for source, target in ALLOWED_TRANSITIONS if source is current}
    actions = ["approve"] if current is ApprovalStatus.REQUESTED and ApprovalStatus.APPROVED in allowed else []
    return actions + [name for name, target in MOVES.items() if target in allowed
                      and not (name == "resume" and current is ApprovalStatus.REQUESTED)]


def approval_page(desk: AdminDesk, approval_id: str, done: str | None) -> dict[str, Any]:
    shown = desk.show(approval_id)
    for change in shown["history"]:
        change["when"] = datetime.fromisoformat(change["at"])
    actions = actions_for(shown["status"])
    return {"approval": shown, "terms": shown["terms"], "actions": actions,
            "terms_json": json.dumps(shown["terms"], ensure_ascii=False, sort_keys=True),
            "terms_pretty": json.dumps(shown["terms"], ensure_ascii=False, sort_keys=True, indent=1),
            "done": done if done in ("approve", *MOVES) else None}


def catalogue_page(desk: AdminDesk, offset: int) -> dict[str, Any]:
    items = desk.catalogue()["items"]
    return {"items": items[offset:offset + CATALOGUE_PAGE], "pages": pager(offset, CATALOGUE_PAGE, len(items))}


def default_days(today: datetime) -> tuple[str, str]:
    return (today - timedelta(days=USAGE_DAYS - 1)).date().isoformat(), today.date().isoformat()


def usage_page(desk: AdminDesk, first_day: str, last_day: str, offset: int) -> dict[str, Any]:
    """The report's lines (tasks, then answers), one page of them, each with its verification status."""
    try:
        check_days(first_day, last_day)
    except UsageError:
        return {"invalid": True, "first_day": first_day, "last_day": last_day}
    report = desk.usage(first_day, last_day)
    lines = [{"section": "task", **t} for t in report["tasks"]] + \
            [{"section": "answer", **a} for a in report["answers"]]
    return {"invalid": False, "first_day": first_day, "last_day": last_day, "report": report,
            "lines": lines[offset:offset + USAGE_PAGE], "line_count": len(lines),
            "pages": pager(offset, USAGE_PAGE, len(lines)), "differences": report["differences"][:100]}
