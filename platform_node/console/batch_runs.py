"""Batch scoring started from the console: runs in the background, in chunks, so a page can show progress.

A run scores its enterprises chunk by chunk through the same function as `POST /v1/scores/batch` (quota,
scorer, uses and leaves in one transaction per chunk, all under one batch id), on one worker thread, so
console batches queue behind each other instead of competing with the API for the cores. Runs and their
results stay in memory (the last `keep` runs): the uses themselves are on record with their batch id. A
run is visible to its own institution only; another institution's run id is not found, like a missing one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from errors import NotFound, XydError

log = logging.getLogger("xyd.platform.console")


class RunState(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class BatchRunNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no such batch run", code="NOT_FOUND", public="no such batch run")


@dataclass(frozen=True)
class ResultRow:
    credit_code: str
    status: str  # SCORED or FAILED
    use_id: str
    score: int | None = None
    grade: str | None = None
    probability_of_default: float | None = None
    reason_codes: tuple[str, ...] = ()
    failure_code: str | None = None


@dataclass
class BatchRun:
    id: str
    institution_id: str
    batch_id: str
    total: int
    created_at: datetime
    done: int = 0
    scored: int = 0
    failed: int = 0
    state: RunState = RunState.RUNNING
    error_code: str | None = None
    error: str | None = None
    results: list[ResultRow] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rows: list[ResultRow]) -> None:
        with self.lock:
            self.results.extend(rows)
            self.done += len(rows)
            self.scored += sum(r.status == "SCORED" for r in rows)
            self.failed += sum(r.status != "SCORED" for r in rows)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.done / self.total


class BatchRuns:
    """The runs of this process, bounded in number."""

    def __init__(self, *, keep: int = 100, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self._runs: OrderedDict[str, BatchRun] = OrderedDict()
        self._keep, self._randbytes = keep, randbytes
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-batch")

    def start(self, institution_id: str, batch_id: str, total: int, now: datetime,
              work: Callable[[BatchRun], None]) -> BatchRun:
        """Queue `work(run)`; a catalogue error it raises fails the run with its public text."""
        run = BatchRun("run-" + self._randbytes(12).hex(), institution_id, batch_id, total, now)
        with self._lock:
            self._runs[run.id] = run
            while len(self._runs) > self._keep:
                self._runs.popitem(last=False)
        self._pool.submit(self._run, run, work)
        return run

    @staticmethod
    def _run(run: BatchRun, work: Callable[[BatchRun], None]) -> None:
        try:
            work(run)
            run.state = RunState.DONE
        except XydError as exc:
            run.error_code, run.error, run.state = exc.code, exc.public_message, RunState.FAILED
        except Exception:
            log.exception("console batch run failed", extra={"run": run.id})
            run.error_code, run.error, run.state = "INTERNAL", "internal error", RunState.FAILED

    def get(self, run_id: str, *, institution_id: str) -> BatchRun:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.institution_id != institution_id:
            raise BatchRunNotFound()
        return run

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
