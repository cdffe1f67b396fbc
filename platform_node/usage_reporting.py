"""What the platform used of each source unit, reported to the coordinator's governance log: online scoring
answers as each source's reply arrived, and verification answers as the node's sealed answer came back, counted
per (source, day, model, institution, purpose) in memory and sent as usage lines every few seconds.

Each source unit later compares these lines with its own record of what it answered (`xyd source usage`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from consent.canonical_json import canonical_json
from consent.governance.usage_lines import UsageKind, answer_line
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc

log = logging.getLogger("xyd.platform.usage")
Key = tuple[str, str, str, str, str, str]  # kind, source, day, model, institution, purpose


def utc_now() -> datetime:
    return datetime.now(UTC)


class AnswerCounter:
    """Answers per source and key, counted in memory (a dict update on the scoring path)."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._counts: dict[Key, int] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def count(self, kind: UsageKind, *, source: str, model_id: str, institution: str, purpose: str, n: int) -> None:
        if n <= 0 or not institution:
            return
        key = (UsageKind(kind).value, source, self._clock().date().isoformat(), model_id, institution, purpose)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def drain(self) -> dict[Key, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def restore(self, counts: dict[Key, int]) -> None:
        """Put back counts whose report failed, to be sent with the next one."""
        with self._lock:
            for key, n in counts.items():
                self._counts[key] = self._counts.get(key, 0) + n


class UsageReporter:
    """Sends the counter's lines to the coordinator every `interval_s` (and once more when closed)."""

    def __init__(self, counter: AnswerCounter, coordinator: str, tls: NodeTls, *, interval_s: float = 10.0) -> None:
        self._counter = counter
        self._channel = open_secure_channel(coordinator, tls, Identity("coordinator", "main"))
        self._stub = control_pb2_grpc.CoordinatorStub(self._channel)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xyd-usage-reporter", daemon=True)

    def start(self) -> UsageReporter:
        self._thread.start()
        return self

    def report(self) -> int:
        """Send what was counted since the last report; returns the number of lines sent (0 if it failed)."""
        counts = self._counter.drain()
        if not counts:
            return 0
        lines = [canonical_json(answer_line(kind=UsageKind(kind), source=source, model_id=model, institution=who,
                                            purpose=purpose, day=day, count=n)).decode()
                 for (kind, source, day, model, who, purpose), n in sorted(counts.items())]
        try:
            self._stub.ReportUsage(control_pb2.UsageBatch(line_json=lines), timeout=10.0)
        except grpc.RpcError as exc:
            log.warning("usage not reported yet: %s", exc.code().name)
            self._counter.restore(counts)
            return 0
        return len(lines)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.report()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.report()
        self._channel.close()
