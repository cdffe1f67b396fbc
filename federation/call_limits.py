"""How much of a node's gRPC capacity a peer may hold, and for how long: slots per peer and a stall watchdog.

gRPC Python's server runs each call on a worker thread for as long as the call lasts, including the time
it waits for the client's next message. A peer that opens streams and never finishes them (or starts a
unary call whose request never comes) therefore holds worker threads; with all of them held, online
scoring waits behind bulk transfers. So every call takes a slot of its peer before it reads anything,
uploads have a server-wide cap below the worker count, and a watchdog cancels a call whose peer stopped
sending (idle and total deadlines).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from federation.chunking import HARD_MAX_MESSAGE_BYTES

log = logging.getLogger("xyd.limits")

_MIB = 1 << 20


@dataclass(frozen=True)
class CallLimits:
    """A node server's limits, from its `[limits]` section (keys as the field names, sizes in MiB)."""

    workers: int = 32  # the server's worker threads
    calls_per_peer: int = 16  # calls one peer may have in flight, of any kind
    pushes_per_peer: int = 4  # concurrent uploads (client-streaming calls: Mailbox.Push) from one peer
    pushes_total: int = 8  # concurrent uploads from everyone: the rest of the workers stay for short calls
    pending_per_peer: int = 4  # calls of one peer still waiting for their (unary) request
    request_s: float = 10.0  # a unary request must arrive within this
    push_idle_s: float = 30.0  # an upload may go this long without a frame
    push_total_s: float = 900.0  # an upload's whole life (4 GiB at 5 MB/s)
    max_message_bytes: int = HARD_MAX_MESSAGE_BYTES  # this node's ceiling on one message, whatever a job says
    # What one sender may have waiting unread in one stage: twice the job's ceiling, never more than this.
    max_unread_bytes: int = 2 * HARD_MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        counts = ("workers", "calls_per_peer", "pushes_per_peer", "pushes_total", "pending_per_peer")
        for name in counts:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"[limits] {name} must be at least 1")
        for name in ("request_s", "push_idle_s", "push_total_s"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"[limits] {name} must be positive")
        if self.pushes_total >= self.workers:
            raise ValueError("[limits] pushes_total must be below workers, or uploads can hold every thread")
        if not 0 < self.max_message_bytes <= HARD_MAX_MESSAGE_BYTES:
            raise ValueError(f"[limits] max_message_mb must be in 1..{HARD_MAX_MESSAGE_BYTES // _MIB}")
        if self.max_unread_bytes < self.max_message_bytes:
            raise ValueError("[limits] max_unread_mb must be at least max_message_mb")

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> CallLimits:
        """Limits from a config section; unknown keys are refused (a typo must not silently keep a default)."""
        sizes = {"max_message_mb": "max_message_bytes", "max_unread_mb": "max_unread_bytes"}
        names = {f.name for f in dataclasses.fields(cls)} - set(sizes.values())
        unknown = set(section) - names - set(sizes)
        if unknown:
            raise ValueError(f"unknown [limits] keys {sorted(unknown)}; known: {sorted(names | set(sizes))}")
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key in sizes:
                values[sizes[key]] = int(value) * _MIB
            elif key.endswith("_s"):
                values[key] = float(value)
            else:
                values[key] = int(value)
        if "max_message_bytes" in values and "max_unread_bytes" not in values:
            values["max_unread_bytes"] = max(values["max_message_bytes"], cls.max_unread_bytes)
        return cls(**values)


class SlotsFull(Exception):
    """A peer (or everyone together) already holds as many calls of this kind as allowed."""


class PeerSlots:
    """Counts calls in flight per peer, with an optional cap over all peers together."""

    def __init__(self, per_peer: int, total: int | None = None) -> None:
        self._per_peer = per_peer
        self._total = total
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def acquire(self, peer: str) -> None:
        """Take a slot for `peer`; raise `SlotsFull` if it (or everyone) holds the maximum."""
        with self._lock:
            if self._held[peer] >= self._per_peer:
                raise SlotsFull(peer)
            if self._total is not None and self._held.total() >= self._total:
                raise SlotsFull(peer)
            self._held[peer] += 1

    def release(self, peer: str) -> None:
        with self._lock:
            self._held[peer] -= 1
            if self._held[peer] <= 0:
                del self._held[peer]

    @contextmanager
    def hold(self, peer: str) -> Iterator[None]:
        self.acquire(peer)
        try:
            yield
        finally:
            self.release(peer)

    def held(self, peer: str | None = None) -> int:
        with self._lock:
            return self._held.total() if peer is None else self._held[peer]


@dataclass
class _Armed:
    deadline: float
    cancel: Callable[[], None]
    reason: str


class StallWatchdog:
    """Cancels calls whose peer stopped sending: each waiting call is armed with a deadline, and one thread
    cancels (gRPC `context.cancel()`, which wakes the worker blocked on the stream) every call past it."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, tick: float = 0.2) -> None:
        self._clock = clock
        self._tick = tick
        self._lock = threading.Lock()
        self._armed: dict[Hashable, _Armed] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return self._clock()

    def arm(self, key: Hashable, deadline: float, cancel: Callable[[], None], reason: str) -> None:
        """Cancel with `cancel()` unless `disarm(key)` comes before `deadline` (on this watchdog's clock)."""
        with self._lock:
            self._armed[key] = _Armed(deadline, cancel, reason)

    def disarm(self, key: Hashable) -> None:
        with self._lock:
            self._armed.pop(key, None)

    def sweep(self, now: float | None = None) -> list[str]:
        """Cancel every call past its deadline; returns why each was cancelled."""
        now = self._clock() if now is None else now
        with self._lock:
            overdue = [(k, a) for k, a in self._armed.items() if a.deadline <= now]
            for key, _ in overdue:
                del self._armed[key]
        for _, armed in overdue:
            log.warning("call cancelled", extra={"reason": armed.reason})
            try:
                armed.cancel()
            except Exception:  # a call that ended meanwhile: nothing left to cancel
                log.debug("cancel of an ended call failed", exc_info=True)
        return [a.reason for _, a in overdue]

    def armed(self) -> int:
        with self._lock:
            return len(self._armed)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="xyd-stall-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self.sweep()


class WatchedRequests(Iterator[Any]):
    """A call's request stream, each wait for the next message armed on the watchdog: at most `idle`
    seconds per message and `total` seconds since the call began, then the call is cancelled."""

    def __init__(self, inner: Iterator[Any], watchdog: StallWatchdog, cancel: Callable[[], None], *,
                 idle: float, total: float, what: str) -> None:
        self._inner = inner
        self._watchdog = watchdog
        self._cancel = cancel
        self._idle = idle
        self._end = watchdog.now() + total
        self._what = what
        self._key = object()

    def __next__(self) -> Any:
        # Past the total deadline the call is armed in the past: the next sweep cancels it, which ends the wait.
        idle_end = self._watchdog.now() + self._idle
        reason = f"{self._what}: no message for {self._idle:g} s" if idle_end < self._end \
            else f"{self._what}: past its total deadline"
        self._watchdog.arm(self._key, min(idle_end, self._end), self._cancel, reason)
        try:
            return next(self._inner)
        finally:
            self._watchdog.disarm(self._key)
