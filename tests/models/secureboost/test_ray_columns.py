"""A source node's histogram accumulation spread over a two-node Ray cluster (started here with `ray start
--head` and `ray start --address`, one CPU each) gives the identical model, bit for bit."""

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
from pathlib import Path

import psutil
import pytest

from models.secureboost import SecureBoostParams
from models.secureboost.local import train_in_process
from tests.models.secureboost.support import same_trees, synthetic

ray = pytest.importorskip("ray")
RAY = str(Path(sys.executable).parent / "ray")
KEYS = {"platform/main": b"k" * 32, "source/tax": b"t" * 32, "source/power": b"p" * 32}


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


@pytest.fixture(scope="module")
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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_column_split_histograms_on_two_nodes_give_the_identical_model(two_node_cluster: str, paillier_1024) -> None:
    from models.secureboost.column_workers import RayColumnHistograms

    y, active, passives = synthetic(300, seed=3, missing_rate=0.05)
    params = SecureBoostParams(n_trees=2, max_depth=3, bins=16, seed=11, colsample_bytree=0.7)
    local = train_in_process(params, y, active, passives, secret=paillier_1024.secret, split_keys=KEYS,
                             allow_insecure_for_tests=True, timeout=120)
    with RayColumnHistograms(workers=2, address=two_node_cluster) as columns:
        spread = train_in_process(params, y, active, passives, secret=paillier_1024.secret, split_keys=KEYS,
                                  allow_insecure_for_tests=True, timeout=240,
                                  passive_columns={"source/tax": columns})
        nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        assert len(nodes) == 2
    same_trees(local.active, spread.active)
    assert local.passives["source/tax"].rules == spread.passives["source/tax"].rules
