"""Supervise node processes started by the local launcher: no orphans, also on Ctrl-C or failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cli.parent_watch import PARENT_PID_ENV
from errors import XydError


# Set by `ProcessGroup.start` to the launcher's pid; the child reads (and removes) it at start-up.
class ProcessFailed(XydError):
    """A supervised process exited early or never became ready; the message carries its log tail."""


@dataclass
class Supervised:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class ProcessGroup:
    """Starts `xyd` role processes and guarantees they are all gone when the group closes."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.members: list[Supervised] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str], env: dict[str, str] | None = None,
              prefix: Sequence[str] = ()) -> Supervised:
        """Start `xyd ARGS` as `name`; `prefix` runs it through another command that execs it in place
        (`ip netns exec NS`), so the pid, its process group and the parent-death signal stay the same."""
        log_path = self.log_dir / f"{name.replace('/', '-')}.log"
        log_file = log_path.open("ab")
        command = [*prefix, sys.executable, "-m", "cli.main", *args]
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {}), PARENT_PID_ENV: str(os.getpid())}, start_new_session=True,
        )
        log_file.close()
        member = Supervised(name, process, log_path)
        self.members.append(member)
        return member

    def check_alive(self) -> None:
        for m in self.members:
            code = m.process.poll()
            if code is not None:
                raise ProcessFailed(f"{m.name} exited with code {code}; last log lines:\n{m.log_tail()}")

    def wait_for_file(self, member: Supervised, path: Path, timeout: float) -> str:
        """Wait until `member` writes `path` (its ready signal), failing fast if it dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return path.read_text(encoding="utf-8").strip()
            code = member.process.poll()
            if code is not None:
                raise ProcessFailed(f"{member.name} exited with code {code} before it was ready; "
                                    f"last log lines:\n{member.log_tail()}")
            time.sleep(0.05)
        raise ProcessFailed(f"{member.name} not ready after {timeout:.0f}s; last log lines:\n{member.log_tail()}")

    def stop_all(self, grace: float = 5.0) -> None:
        """SIGTERM every process group, then SIGKILL what is left after `grace` seconds."""
        for m in self.members:
            if m.process.poll() is None:
                try:
                    os.killpg(m.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for m in self.members:
            try:
                m.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(m.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                m.process.wait(timeout=5)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
