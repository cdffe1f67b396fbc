"""Node processes die with their launcher (PR_SET_PDEATHSIG set by the child itself after exec)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from sandbox.processes import PARENT_PID_ENV

ROOT = Path(__file__).resolve().parents[2]
CHILD = ("from cli.parent_watch import die_with_parent_if_asked; die_with_parent_if_asked(); "
         "import time; time.sleep(60)")
LAUNCHER = (
    "import os, subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {CHILD!r}], env={{**os.environ, {PARENT_PID_ENV!r}: "
    "str(os.getpid())}, start_new_session=True)\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_a_child_exits_when_its_launcher_dies() -> None:
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE, text=True, env=_env())
    child_pid = 0
    try:
        child_pid = int(launcher.stdout.readline())
        time.sleep(1.0)  # the child has run die_with_parent_if_asked by now
        assert psutil.pid_exists(child_pid)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the child outlived its launcher")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=10)
        if child_pid and psutil.pid_exists(child_pid):
            try:
                os.kill(child_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_child_whose_launcher_is_already_gone_exits_at_once() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], env={**_env(), PARENT_PID_ENV: "1"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "launcher of this process is gone" in done.stderr
