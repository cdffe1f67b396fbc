"""What the platform node's stages are doing: each stage it runs, with its progress messages, in memory.

The platform is the active party of every joint job, so the progress it reports to the coordinator (trees
built, rounds, contribution retrains) is the job's progress. `observed` wraps the node's stage handlers so
every progress call is also kept here, where the operator's console reads it; the coordinator still gets
every event as before. Bounded: the last `keep_jobs` jobs, the last `keep_events` events of each stage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from federation.tasks import Handler, TaskContext


@dataclass
class StageActivity:
    job_id: str
    stage: str
    started_at: datetime
    state: str = "RUNNING"  # RUNNING, SUCCEEDED or FAILED
    finished_at: datetime | None = None
    message: str = ""
    fraction: float = -1.0
    events: deque[tuple[datetime, str, float]] = field(default_factory=lambda: deque(maxlen=50))


class TaskActivity:
    """The stages of recent jobs, newest job first."""

    def __init__(self, *, keep_jobs: int = 50, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._jobs: OrderedDict[str, dict[str, StageActivity]] = OrderedDict()
        self._keep, self._clock = keep_jobs, clock
        self._lock = threading.Lock()

    def started(self, job_id: str, stage: str) -> None:
        with self._lock:
            stages = self._jobs.setdefault(job_id, {})
            self._jobs.move_to_end(job_id)
            stages[stage] = StageActivity(job_id, stage, self._clock())
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

    def progress(self, job_id: str, stage: str, message: str, fraction: float) -> None:
        with self._lock:
            activity = self._jobs.get(job_id, {}).get(stage)
            if activity is not None:
                activity.message, activity.fraction = message, fraction
                activity.events.append((self._clock(), message, fraction))

    def finished(self, job_id: str, stage: str, *, ok: bool) -> None:
        with self._lock:
            activity = self._jobs.get(job_id, {}).get(stage)
            if activity is not None:
                activity.state, activity.finished_at = ("SUCCEEDED" if ok else "FAILED"), self._clock()
                if ok:
                    activity.fraction = 1.0

    def jobs(self) -> list[tuple[str, list[StageActivity]]]:
        """(job id, its stages in the order they started), newest job first; copies, safe to read."""
        with self._lock:
            return [(job_id, [StageActivity(a.job_id, a.stage, a.started_at, a.state, a.finished_at, a.message,
                                            a.fraction, deque(a.events, maxlen=50)) for a in stages.values()])
                    for job_id, stages in reversed(self._jobs.items())]


def observed(handlers: Mapping[Any, Handler], activity: TaskActivity) -> dict[Any, Handler]:
    """The same handlers, each also reporting its start, progress and end to `activity`."""

    def wrap(stage: Any, handler: Handler) -> Handler:
        def run(ctx: TaskContext) -> Mapping[str, Any]:
            name = str(getattr(stage, "value", stage))
            activity.started(ctx.job_id, name)
            report = ctx.progress

            def progress(message: str, fraction: float = -1.0) -> None:
                activity.progress(ctx.job_id, name, message, fraction)
                report(message, fraction)

            ctx.progress = progress  # type: ignore[method-assign]
            try:
                result = handler(ctx)
            except BaseException:
                activity.finished(ctx.job_id, name, ok=False)
                raise
            activity.finished(ctx.job_id, name, ok=True)
            return result

        return run

    return {stage: wrap(stage, handler) for stage, handler in handlers.items()}
