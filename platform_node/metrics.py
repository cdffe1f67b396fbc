"""The platform's own metrics: the size of each audit log it keeps, read when Prometheus scrapes.

`xyd_audit_log_leaves{log}`: leaves in the consent registry's log (`registry`) and in the bank API's log
(`api`); one small read of the stored tree head per log and scrape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from consent.audit import AuditLog

log = logging.getLogger("xyd.platform.metrics")


class AuditLogCollector(Collector):
    """Reports the tree size of every audit log added to it."""

    def __init__(self) -> None:
        self._logs: dict[str, AuditLog] = {}
        self._lock = threading.Lock()

    def add(self, name: str, audit: AuditLog) -> None:
        with self._lock:
            self._logs[name] = audit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("xyd_audit_log_leaves", "Leaves in each audit log this process keeps",
                                   labels=["log"])
        with self._lock:
            logs = dict(self._logs)
        for name, audit in sorted(logs.items()):
            try:
                family.add_metric([name], audit.tree_size())
            except Exception:  # a scrape must not fail because one database is briefly unreachable
                log.exception("audit log size unreadable", extra={"log": name})
        yield family
