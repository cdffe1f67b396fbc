"""A two-node Ray cluster on this machine for the tests of the `ray` compute backend: `ray start --head` and
`ray start --address`, one CPU each, started and stopped by process id within bounded waits; nothing is left."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import ray

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], temp_dir: str) -> subprocess.Popen:
    # --block keeps `ray start` in the foreground: stopping it (by its id) stops the node it started.
    return subprocess.Popen([RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
                             f"--dashboard-agent-listen-port={_free_port()}", *args],
                            env={**os.environ, "RAY_TMPDIR": temp_dir}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(procs: list[subprocess.Popen], temp_dir: str) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # Anything of this cluster still alive (its processes name its own temp folder) is ended by id.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [p for p in psutil.process_iter(["cmdline"]) if temp_dir in " ".join(p.info["cmdline"] or [])]
        if not left:
            return
        for p in left:
            p.kill()
        time.sleep(0.5)
    raise AssertionError(f"Ray processes left behind: {[p.pid for p in left]}")


@contextmanager
def two_node_cluster() -> Iterator[str]:
    temp_dir = tempfile.mkdtemp(prefix="xr")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    procs = [_start(["--head", f"--port={port}", "--include-dashboard=false",
                     f"--ray-client-server-port={_free_port()}", f"--temp-dir={temp_dir}"], temp_dir)]
    try:
        deadline = time.monotonic() + 120
        started_worker = False
        while time.monotonic() < deadline:
            try:
                if not ray.is_initialized():
                    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
                if not started_worker:
                    procs.append(_start([f"--address={address}"], temp_dir))
                    started_worker = True
                if sum(node["Alive"] for node in ray.nodes()) == 2:
                    break
            except (ConnectionError, RuntimeError):
                pass
            time.sleep(1)
        else:
            raise AssertionError("the two-node Ray cluster did not come up within 120 s")
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop(procs, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
