"""The record of report requests: who read which enterprise's public report, when, for what purpose; each
read is also a `report_read` leaf of the platform's log (the enterprise as a keyed reference), in the same
transaction."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, insert

from consent.audit import AuditEvent, AuditLog, EventKind, LeafReceipt, keyed_ref
from consent.authorisation.schema import to_epoch
from platform_node.reports.schema import report_requests


class ReportRequestLog:
    def __init__(self, engine: Engine, audit: AuditLog, *, subject_ref_key: bytes,
                 randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._audit, self._key, self._randbytes = engine, audit, subject_ref_key, randbytes

    def record(self, institution_id: str, credit_code: str, *, purpose: str, items: int,
               now: datetime) -> tuple[str, LeafReceipt]:
        """Keep the read and its leaf; returns the request id and the leaf's receipt."""
        request_id = "rpt-" + self._randbytes(8).hex()
        with self._engine.begin() as conn:
            conn.execute(insert(report_requests).values(
                id=request_id, institution_id=institution_id, credit_code=credit_code, purpose=purpose, items=items,
                at=to_epoch(now),
            ))
            receipt = self._audit.append(conn, AuditEvent(
                kind=EventKind.REPORT_READ, occurred_at=now, use_id=request_id, institution=institution_id,
                purpose=purpose, subject_ref=keyed_ref(self._key, credit_code)))
        return request_id, receipt
