"""A queue that many threads fill and a few worker threads drain in groups.

The shared shape of request coalescing (one fan-out for many score requests) and group commit (one
transaction for many requests' uses): callers `put` work and wait on their own future; a worker takes
what has gathered while the previous group was being handled and passes it to `handle` in one call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
log = logging.getLogger("xyd.platform.queue")


class GroupedQueue(Generic[Item]):
    """Items put by any thread, handed to `handle` in groups chosen by `take` on `workers` daemon threads.

    `take` receives the non-empty queue (under the queue's lock) and removes and returns one group. With
    `linger_s`, a worker that finds work waits that long before taking it, so that requests arriving
    together share a group (fewer, larger calls when the process is busy, at `linger_s` of added latency).
    Worker threads start with the first `put`; `close` lets them finish what is queued, then joins them.
    """

    def __init__(self, handle: Callable[[list[Item]], None], take: Callable[[deque[Item]], list[Item]], *,
                 workers: int = 1, linger_s: float = 0.0, name: str = "grouped-queue") -> None:
        if workers < 1 or linger_s < 0:
            raise ValueError("at least one worker and a linger time >= 0")
        self._handle, self._take, self._workers, self._name = handle, take, workers, name
        self._linger_s = linger_s
        self._ready = threading.Condition()
        self._queue: deque[Item] = deque()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def put(self, item: Item) -> None:
        self.put_many([item])

    def put_many(self, items: Sequence[Item]) -> None:
        """Queue `items` together (one wake-up), so that a worker that is free takes them as one group."""
        with self._ready:
            if self._closed:
                raise RuntimeError(f"{self._name} is closed")
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._queue.extend(items)
            self._ready.notify()

    def close(self, timeout_s: float = 30.0) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=timeout_s)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                if self._linger_s:  # let the requests of a busy moment join this group
                    deadline = time.monotonic() + self._linger_s
                    while not self._closed and (left := deadline - time.monotonic()) > 0:
                        self._ready.wait(left)
                    if not self._queue:  # another worker took it meanwhile
                        continue
                group = self._take(self._queue)
            try:
                self._handle(group)
            except Exception:  # the handler answers its items; a bug in it must not stop the queue
                log.exception("grouped queue handler failed", extra={"queue": self._name, "items": len(group)})
