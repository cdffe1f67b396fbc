"""The record of report requests: who read which enterprise's public report, when, for what purpose."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, insert

from consent.authorisation.schema import to_epoch
from platform_node.reports.schema import report_requests


class ReportRequestLog:
    def __init__(self, engine: Engine, *, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._engine, self._randbytes = engine, randbytes

    def record(self, institution_id: str, credit_code: str, *, purpose: str, items: int, now: datetime) -> str:
        request_id = "rpt-" + self._randbytes(8).hex()
        with self._engine.begin() as conn:
            conn.execute(insert(report_requests).values(
                id=request_id, institution_id=institution_id, credit_code=credit_code, purpose=purpose, items=items,
                at=to_epoch(now),
            ))
        return request_id
