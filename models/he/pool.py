"""A bounded pool of obfuscators filled ahead of time by worker processes.

Each worker (`models.he.obfuscator_worker`, a child process on pipes) answers batch requests from
fixed-base tables built once per pool: the first worker builds them and forks the others from itself, so
the tables cost one build and one copy of memory however many workers there are; one thread per worker keeps the pool topped up to `capacity`. Online
encryption then only takes obfuscators out of the pool. Each obfuscator leaves the pool once, and every
value the pool ever received is fingerprinted: a repeat (two workers with the same randomness, say)
fails the pool with ObfuscatorReuseError instead of being served.

Workers are plain subprocesses speaking length-prefixed bytes: no pickle, no re-import of the caller's
__main__, and a worker whose parent dies reads end-of-input and exits.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from models.he.errors import ObfuscatorReuseError, PoolClosedError, PoolExhaustedError
from models.he.framing import read_frame, write_frame
from models.he.obfuscators import ObfuscatorBatch, ObfuscatorSource, batch_from_bytes
from models.he.parallel import default_threads

_REPO_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of the pool: how full it is and how much it has made and served."""

    capacity: int
    size: int
    produced: int
    consumed: int
    refills: int
    workers: int
    in_flight: int


@dataclass(frozen=True)
class _WorkerPipes:
    """The pool's ends of one worker's pipes, and the process that answers on them (the first worker answers
    for the siblings it forked, so its exit code is the one to report)."""

    requests: BinaryIO
    replies: BinaryIO
    process: subprocess.Popen


def _stop_workers(pipes: list[_WorkerPipes], processes: list[subprocess.Popen]) -> None:
    """Close each worker's input (it exits at end of input), then kill whatever is still alive."""
    for worker in pipes:
        try:
            if not worker.requests.closed:
                write_frame(worker.requests, b"")
                worker.requests.close()
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 5.0
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)
    for worker in pipes:
        worker.replies.close()


class ObfuscatorPool:
    """Obfuscators made ahead of time by `workers` processes, at most `capacity` held at once.

    Use as a context manager; `take(count)` blocks until `count` obfuscators are available.
    `limit` caps how many the pool makes over its whole life (a job that knows its demand, e.g. rows x trees,
    passes it so the workers stop instead of filling the pool for a tree that never comes: on a 2-core
    machine every surplus obfuscator costs the other parties CPU). A `take` beyond the limit raises
    PoolExhaustedError. `worker_seeds` (one per worker) makes workers deterministic and is for tests only.
    `niceness` lowers the workers' scheduling priority (os.nice): on a machine where the protocol's own
    steps alternate on one core, the workers then fill the idle CPU instead of slowing those steps down.
    """

    def __init__(
        self,
        source: ObfuscatorSource,
        *,
        capacity: int = 65536,
        workers: int | None = None,
        batch: int = 256,
        take_timeout: float = 120.0,
        limit: int | None = None,
        worker_seeds: list[bytes] | None = None,
        niceness: int = 0,
    ) -> None:
        workers = workers if workers is not None else default_threads()
        if capacity < 1 or workers < 1 or batch < 1 or (limit is not None and limit < 0):
            raise ValueError("capacity, workers and batch must be >= 1, limit >= 0")
        if worker_seeds is not None and len(worker_seeds) != workers:
            raise ValueError("give one seed per worker")
        if not 0 <= niceness <= 19:
            raise ValueError("niceness must be in [0, 19]")
        self.niceness = niceness
        self.source = source
        self.capacity, self.workers, self.batch = capacity, workers, min(batch, capacity)
        self.take_timeout = take_timeout
        self.limit = limit
        self._seeds = worker_seeds or [b""] * workers
        self._items: collections.deque = collections.deque()
        self._fingerprints: set[int] = set()
        self._lock = threading.Condition()
        self._produced = self._consumed = self._refills = self._in_flight = 0
        self._failure: Exception | None = None
        self._started = self._closing = False
        self._processes: list[subprocess.Popen] = []
        self._pipes: list[_WorkerPipes] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ObfuscatorPool:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker processes and one feeding thread per worker."""
        if self._started:
            raise PoolClosedError("the pool was already started")
        self._started = True
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_REPO_ROOT, os.environ.get("PYTHONPATH")]))
        )
        recipe = self.source.to_bytes()
        # One process builds the tables and forks the other workers from itself (their pages stay shared);
        # each sibling speaks the same frames on its own pair of pipes.
        sibling_fds = [(os.pipe(), os.pipe()) for _ in self._seeds[1:]] if hasattr(os, "fork") else []
        process = subprocess.Popen(
            [sys.executable, "-m", "models.he.obfuscator_worker", str(self.niceness),
             *(f"{requests[0]}:{replies[1]}" for requests, replies in sibling_fds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_REPO_ROOT,
            pass_fds=[fd for requests, replies in sibling_fds for fd in (requests[0], replies[1])],
        )
        self._processes.append(process)
        assert process.stdin is not None and process.stdout is not None
        self._pipes.append(_WorkerPipes(process.stdin, process.stdout, process))
        for requests, replies in sibling_fds:
            os.close(requests[0])
            os.close(replies[1])
            self._pipes.append(_WorkerPipes(os.fdopen(requests[1], "wb"), os.fdopen(replies[0], "rb"), process))
        for _ in self._seeds[1 + len(sibling_fds):]:  # no fork on this platform: one process per worker
            process = subprocess.Popen(
                [sys.executable, "-m", "models.he.obfuscator_worker", str(self.niceness)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=_REPO_ROOT,
            )
            self._processes.append(process)
            assert process.stdin is not None and process.stdout is not None
            self._pipes.append(_WorkerPipes(process.stdin, process.stdout, process))
        for worker, seed in zip(self._pipes, self._seeds, strict=True):
            write_frame(worker.requests, recipe)
            write_frame(worker.requests, seed)
        self._finalizer = weakref.finalize(self, _stop_workers, list(self._pipes), list(self._processes))
        for index, worker in enumerate(self._pipes):
            thread = threading.Thread(
                target=self._feed, args=(index, worker), name=f"xyd-obfuscator-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the workers and their threads; the pool serves nothing afterwards."""
        with self._lock:
            self._closing = True
            self._items.clear()
            self._lock.notify_all()
        if self._started:
            self._finalizer()
        for thread in self._threads:
            thread.join(10.0)

    def stats(self) -> PoolStats:
        """Current size and lifetime counters."""
        with self._lock:
            return PoolStats(
                capacity=self.capacity,
                size=len(self._items),
                produced=self._produced,
                consumed=self._consumed,
                refills=self._refills,
                workers=self.workers,
                in_flight=self._in_flight,
            )

    def wait_until_full(self, timeout: float = 60.0) -> None:
        """Block until the pool holds `capacity` obfuscators, or all its limit allows (warm-up before a timed phase)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self.capacity if self.limit is None else min(self.capacity, self.limit - self._consumed)
            while len(self._items) < target:
                self._raise_if_unusable()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"pool holds {len(self._items)} of {target} after {timeout}s")
                self._lock.wait(remaining)

    def take(self, count: int) -> ObfuscatorBatch:
        """Remove `count` obfuscators from the pool; none of them is ever served again."""
        values, reduced = [], []
        with self._lock:
            if self.limit is not None and count > len(self._items) + self.limit - self._produced:
                raise PoolExhaustedError(f"{count} obfuscators asked, {len(self._items)} held and "
                                         f"{self.limit - self._produced} left to make under the limit {self.limit}")
            while len(values) < count:
                self._raise_if_unusable()
                if not self._items:
                    if not self._lock.wait(self.take_timeout) and not self._items:
                        raise TimeoutError(f"no obfuscator produced within {self.take_timeout}s")
                    continue
                for _ in range(min(count - len(values), len(self._items))):
                    value, value_reduced = self._items.popleft()
                    values.append(value)
                    reduced.append(value_reduced)
                self._lock.notify_all()
            self._consumed += count
        return ObfuscatorBatch(values, reduced if self.source.reduce_modulus is not None else None)

    def _raise_if_unusable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if not self._started or self._closing:
            raise PoolClosedError("the obfuscator pool is not running (use it inside its `with` block)")

    def _feed(self, index: int, worker: _WorkerPipes) -> None:
        """One per worker: whenever the pool has room for a batch, ask the worker for one and absorb it."""
        while True:
            with self._lock:
                while not self._closing and self._failure is None and self._room() <= 0:
                    self._lock.wait()
                if self._closing or self._failure is not None:
                    return
                request = min(self.batch, self._room())
                self._in_flight += request
            try:
                write_frame(worker.requests, request.to_bytes(4, "big"))
                data = read_frame(worker.replies)
            except (OSError, ValueError):
                data = None
            with self._lock:
                self._in_flight -= request
                if self._closing:
                    return
                if data is None:
                    self._fail(PoolClosedError(f"obfuscator worker {index} exited (code {worker.process.poll()})"))
                    return
                self._absorb(batch_from_bytes(self.source, data))

    def _room(self) -> int:
        """How many more obfuscators may be requested now. Lock held."""
        room = self.capacity - len(self._items) - self._in_flight
        if self.limit is not None:
            room = min(room, self.limit - self._produced - self._in_flight)
        return room

    def _absorb(self, batch: ObfuscatorBatch) -> None:
        """Check a batch for repeats (within itself, against everything seen), then add it. Lock held."""
        # hash() of an mpz is its value mod 2^61 - 1: a false alarm needs ~2^30 obfuscators.
        fingerprints = [hash(value) for value in batch.values]
        fresh = set(fingerprints)
        if len(fresh) != len(fingerprints) or not fresh.isdisjoint(self._fingerprints):
            self._fail(ObfuscatorReuseError("a worker produced an obfuscator the pool has already seen"))
            return
        self._fingerprints |= fresh
        reduced = batch.reduced if batch.reduced is not None else [None] * len(batch)
        self._items.extend(zip(batch.values, reduced, strict=True))
        self._produced += len(batch)
        self._refills += 1
        self._lock.notify_all()

    def _fail(self, error: Exception) -> None:
        """Mark the pool unusable and drop what it holds. Lock held."""
        self._failure = error
        self._items.clear()
        self._lock.notify_all()
