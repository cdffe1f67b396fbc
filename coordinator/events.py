"""In-memory job progress feed: watchers replay a job's events so far, then follow new ones."""

from __future__ import annotations

import threading
from collections import defaultdict

from coordinator.jobs.runner import StageEvent


class JobEventFeed:
    """Appends events per job; `follow` yields them in order until the job is closed or the caller stops."""

    def __init__(self, keep_per_job: int = 10_000) -> None:
        self._events: dict[str, list[StageEvent]] = defaultdict(list)
        self._closed: set[str] = set()
        self._cond = threading.Condition()
        self._keep = keep_per_job

    def publish(self, event: StageEvent) -> None:
        with self._cond:
            events = self._events[event.job_id]
            events.append(event)
            if len(events) > self._keep:
                del events[: len(events) - self._keep]
            self._cond.notify_all()

    def reopen(self, job_id: str) -> None:
        """A job runs again (resumed): watchers wait for its new events instead of finding it closed."""
        with self._cond:
            self._closed.discard(job_id)

    def close(self, job_id: str) -> None:
        with self._cond:
            self._closed.add(job_id)
            self._cond.notify_all()

    def read(self, job_id: str, start: int, timeout: float) -> tuple[list[StageEvent], bool]:
        """Events from index `start`, waiting up to `timeout` for new ones; also whether the job is closed."""
        with self._cond:
            if len(self._events[job_id]) <= start and job_id not in self._closed:
                self._cond.wait(timeout)
            return list(self._events[job_id][start:]), job_id in self._closed
