"""Benchmark parties as child processes: the parent's handle on a child, and what a child measures of itself.

A child speaks JSON lines: it prints its reports on stdout and reads its instructions from stdin. The parent
reads through a queue, so every wait has a timeout, and stops a child by asking, then by killing it.
"""

from __future__ import annotations

import json
import queue
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent


class PartyProcess:
    """One party of a benchmark run as `python -m MODULE ARGV...` in its own OS process."""

    def __init__(self, name: str, module: str, argv: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen([sys.executable, "-m", module, *argv], cwd=REPO_ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def receive(self, timeout: float) -> dict[str, Any]:
        """The child's next JSON line."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name} said nothing within {timeout:.0f}s") from None
        if not line:
            raise RuntimeError(f"{self.name} exited with code {self.process.wait(timeout=10)}")
        return json.loads(line)

    def tell(self, payload: dict[str, Any]) -> None:
        """Send the child one JSON line."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(payload) + "\n")
        self.process.stdin.flush()

    def finish(self) -> None:
        """Ask the child to stop; kill it if it has not within ten seconds."""
        try:
            self.tell({"stop": True})
            assert self.process.stdin is not None
            self.process.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class PeakMemory:
    """Samples the RSS of this process plus its worker processes; the peak in MiB."""

    def __init__(self, every: float = 0.1) -> None:
        self._me = psutil.Process()
        self._every = every
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            total = self._me.memory_info().rss
            for child in self._me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return round(max(self.peak, own_peak) / 2**20, 1)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def emit(payload: dict[str, object]) -> None:
    """A child's report to its parent: one JSON line on stdout."""
    print(json.dumps(payload), flush=True)
