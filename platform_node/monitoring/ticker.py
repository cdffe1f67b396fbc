"""A background thread that runs the platform's periodic jobs (monitoring sweep, webhook delivery,
subscription pushes, checkpoints), each at its own interval. Errors are logged and the job runs again at its
next slot; nothing here holds state between runs (it all lives in the database)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger("xyd.platform.ticker")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_s: float
    run: Callable[[datetime], object]


class Ticker:
    """Runs each job every `interval_s` seconds of the monotonic clock until `stop()`."""

    def __init__(self, jobs: list[PeriodicJob], clock: Callable[[], datetime], *, resolution_s: float = 0.2) -> None:
        self._jobs, self._clock, self._resolution = jobs, clock, resolution_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="platform-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        next_run = {job.name: time.monotonic() + job.interval_s for job in self._jobs}
        while not self._stop.wait(self._resolution):
            for job in self._jobs:
                if time.monotonic() < next_run[job.name]:
                    continue
                try:
                    job.run(self._clock())
                except Exception:  # a failing job must not stop the others; the next slot retries it
                    log.exception("periodic job failed", extra={"job": job.name})
                next_run[job.name] = time.monotonic() + job.interval_s
