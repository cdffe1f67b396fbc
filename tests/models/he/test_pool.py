"""The obfuscator pool: filled by worker processes, bounded, observable, and never serves a value twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models.he import (
    Decryptor,
    Encryptor,
    FixedPointCodec,
    ObfuscatorPool,
    ObfuscatorReuseError,
    PackingLayout,
    PoolClosedError,
    PoolExhaustedError,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def source(paillier_keys):
    return paillier_keys.secret.obfuscator_source(window_bits=6)


def test_pool_serves_every_obfuscator_once_and_reports_its_counters(source) -> None:
    with ObfuscatorPool(source, capacity=64, workers=2, batch=16, take_timeout=60) as pool:
        drawn = []
        for size in [1, 7, 16, 40, 64, 100, 2, 70]:
            batch = pool.take(size)
            assert len(batch) == size
            drawn.extend(int(v) for v in batch.values)
        stats = pool.stats()
    assert len(drawn) == 300
    assert len(set(drawn)) == len(drawn), "an obfuscator was served twice"
    assert stats.consumed == 300
    assert stats.produced >= stats.consumed
    assert stats.size <= stats.capacity == 64
    assert stats.refills >= 300 // 16
    assert stats.workers == 2


def test_pool_fills_to_capacity_and_stops(source) -> None:
    with ObfuscatorPool(source, capacity=40, workers=1, batch=16, take_timeout=60) as pool:
        pool.wait_until_full(timeout=60)
        stats = pool.stats()
        assert stats.size == stats.produced == 40
        assert stats.in_flight == 0


def test_pool_refuses_to_serve_a_repeated_obfuscator(source) -> None:
    # Two workers seeded alike produce the same values: the second batch must not be served. The pool
    # holds exactly two batches, so each worker answers once before anything is taken.
    with ObfuscatorPool(
        source, capacity=32, workers=2, batch=16, take_timeout=60, worker_seeds=[b"same", b"same"]
    ) as pool:
        with pytest.raises(ObfuscatorReuseError):
            pool.wait_until_full(timeout=60)
        with pytest.raises(ObfuscatorReuseError):
            pool.take(1)
        assert pool.stats().size == 0


def test_pool_makes_no_more_than_its_limit_and_refuses_takes_beyond_it(source) -> None:
    with ObfuscatorPool(source, capacity=64, workers=2, batch=16, take_timeout=60, limit=40) as pool:
        pool.wait_until_full(timeout=60)  # full means everything the limit allows
        assert pool.stats().size == pool.stats().produced == 40
        drawn = [int(v) for v in pool.take(25).values]
        with pytest.raises(PoolExhaustedError):
            pool.take(16)  # 15 left: refused whole, nothing is consumed
        drawn += [int(v) for v in pool.take(15).values]
        time.sleep(0.2)  # give the feeding threads a chance to (wrongly) ask for more
        stats = pool.stats()
        with pytest.raises(PoolExhaustedError):
            pool.take(1)
    assert len(set(drawn)) == 40
    assert stats.produced == stats.consumed == 40 and stats.in_flight == 0


def test_pool_is_unusable_outside_its_with_block(source) -> None:
    pool = ObfuscatorPool(source, capacity=8, workers=1, batch=8)
    with pytest.raises(PoolClosedError):
        pool.take(1)
    with pool:
        assert len(pool.take(3)) == 3
        processes = list(pool._processes)
    assert all(process.poll() is not None for process in processes), "a worker outlived its pool"
    with pytest.raises(PoolClosedError):
        pool.take(1)


def test_encryption_with_pooled_obfuscators_round_trips(paillier_keys, source) -> None:
    layout = PackingLayout.plan(FixedPointCodec(40, 1.0), slots=2, max_additions=100)
    values = np.random.default_rng(5).uniform(-1, 1, (50, 2))
    with ObfuscatorPool(source, capacity=64, workers=2, batch=16, take_timeout=60) as pool:
        encryptor = Encryptor(paillier_keys.public, pool)
        first, second = encryptor.encrypt(values, layout), encryptor.encrypt(values, layout)
    # The same plaintexts encrypt to different ciphertexts: no obfuscator was shared.
    assert not set(map(int, first.ciphertexts)) & set(map(int, second.ciphertexts))
    decrypted = Decryptor(paillier_keys.secret).decrypt(first.add(second))
    assert np.allclose(decrypted, 2 * values, rtol=0, atol=2.0**-39)


def test_workers_exit_when_their_owner_is_killed(tmp_path) -> None:
    # A pool owner that dies without closing (SIGKILL) must not leave workers behind: they see end-of-input.
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys, time\n"
        "from models.he import ObfuscatorPool, PaillierKeypair, PaillierParams\n"
        "keys = PaillierKeypair.generate(PaillierParams(key_bits=768, allow_insecure_for_tests=True))\n"
        "pool = ObfuscatorPool(keys.secret.obfuscator_source(window_bits=6), capacity=64, workers=2, batch=16)\n"
        "pool.start()\n"
        "pool.take(8)\n"
        "pool.wait_until_full()\n"
        "import psutil\n"
        "workers = [psutil.Process(p.pid) for p in pool._processes]\n"
        "workers += [child for w in workers for child in w.children()]  # siblings forked by the first\n"
        "print(' '.join(str(w.pid) for w in workers), flush=True)\n"
        "time.sleep(120)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    owner = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=REPO_ROOT, env=env, text=True
    )
    try:
        worker_pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(worker_pids) == 2
        owner.kill()
        owner.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in worker_pids):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in worker_pids), "a worker outlived its killed owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def test_workers_run_at_the_requested_niceness(source) -> None:
    psutil = pytest.importorskip("psutil")
    with ObfuscatorPool(source, capacity=16, workers=1, batch=8, niceness=3, take_timeout=60) as pool:
        assert len(pool.take(4)) == 4
        workers = [c for c in psutil.Process().children()
                   if any("obfuscator_worker" in part for part in c.cmdline())]
        assert workers
        assert all(c.nice() == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 3) for c in workers)
    with pytest.raises(ValueError):
        ObfuscatorPool(source, niceness=-1)


def test_three_workers_share_one_table_build_and_fill_the_pool(source) -> None:
    # One process builds the tables and forks its siblings; each sibling answers on its own pipes.
    import psutil

    with ObfuscatorPool(source, capacity=96, workers=3, batch=8, take_timeout=60) as pool:
        pool.wait_until_full(60)
        spawned = [psutil.Process(p.pid) for p in pool._processes]
        assert len(spawned) == 1 and len(spawned[0].children()) == 2
        values = [int(v) for v in pool.take(96).values]
        assert len(set(values)) == 96
        forked = spawned[0].children()
    psutil.wait_procs([*spawned, *forked], timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in [*spawned, *forked])
