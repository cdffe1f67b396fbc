"""Fault scenarios against a real federation while banks keep scoring.

`python -m benchmarks resilience [--enterprises 3000 --trees 8 --key-bits 2048]`: synthetic data, every
role a separate process over mTLS, a first SecureBoost model published and served to a bank by the
platform's HTTP API. A closed loop of single scores runs through every scenario:

* `platform_crash`, `source_crash`, `coordinator_crash`: the process is SIGKILLed at tree 2 of a training
  and started again with the same config and state; the job must resume and publish the model of the same
  job run uninterrupted (`sandbox.replay`, same inputs and split keys, predictions to 1e-9).
* `lr_source_crash`, `psi_source_crash`: a source node SIGKILLed as soon as it holds checkpoint 2 of a
  vertical LR training (plaintext mode, so runs are reproducible) or round 4 of a PSI (small batches), and
  started again; the stage must resume from a common unit > 0 and end with the predictions (to 1e-9) or
  intersections of the same job run uninterrupted just before.
* `link_dropped`: a source node goes away for longer than the coordinator waits (`--resume-wait`): the job
  must fail naming the node and why; once the node is back, `xyd job resume` finishes it (same model).
* `certificate_revoked`: a source node's certificate is revoked mid-training: the job must fail at once
  (no resumption), saying the certificate was revoked and whose.
* `disk_full`: the platform API's database sits on a small tmpfs that is filled up: scores must be refused
  with 503 AUDIT_STORE_UNAVAILABLE, never served without their use and leaf, and served again once there is
  room. Needs the right to mount a tmpfs (root); skipped otherwise, and said so.

The last stdout line is one JSON object: `scenarios`, `scenarios_passed`, `resumed_identical` (every
resumed training's predictions and every resumed PSI's intersections equal the uninterrupted ones),
`uses_without_leaf`, `leaves_without_use`, `load_requests`, `load_errors` (answers that are neither a
score nor a documented refusal: 503 SOURCE_UNAVAILABLE / AUDIT_STORE_UNAVAILABLE, or a refused connection
while the platform itself is down, counted apart as `load_refused` and `load_unreachable`), `load_p99_ms`
(scores served) and `rss_growth_mb` (the platform process's resident memory from after its restart to the
end), with per-scenario details.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil
import sqlalchemy as sa

from cli.operator_client import OperatorError
from federation.job_files import read_intersection
from federation.pki import CertificateAuthority, Identity
from platform_node.uses.pairing import unpaired
from sandbox.demo.bank import onboard
from sandbox.launcher import LocalFederation, NodeData
from sandbox.replay import predictions, published_predictions, replay_secureboost
from sandbox.synthdata import generate

SOURCES = ("tax", "social_insurance", "utilities")
# Answers that are the API keeping its word during a fault, not errors.
DOCUMENTED_REFUSALS = {(503, "SOURCE_UNAVAILABLE"), (503, "AUDIT_STORE_UNAVAILABLE")}


def _log(message: str) -> None:
    print(f"[resilience {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _job(trees: int, key_bits: int, name: str) -> str:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    return (f'[job]\nname = "{name}"\nproject = "sandbox"\nstages = ["psi", "train", "publish"]\n[parties]\n'
            f'active = "platform/main"\npassive = [{passive}]\n[psi]\nreveal = "both"\n[train]\n'
            f'algorithm = "secureboost"\nmodel_name = "resilience"\nn_trees = {trees}\nmax_depth = 3\nbins = 32\n'
            f'key_bits = {key_bits}\nholdout = 0.2\nsubsample = 0.8\ncolsample_bytree = 0.8\n')


@dataclass
class Load:
    """Single scores in a closed loop from a few threads, following the platform's API address."""

    fed: LocalFederation
    headers: dict[str, str]
    codes: list[str]
    threads: int = 4
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    unreachable: int = 0
    errors: list[str] = field(default_factory=list)
    platform_down: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for k in range(self.threads):
            worker = threading.Thread(target=self._loop, args=(k,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    def _loop(self, k: int) -> None:
        i = k
        with httpx.Client(timeout=30.0, headers=self.headers) as http:
            while not self._stop.is_set():
                code = self.codes[i % len(self.codes)]
                i += self.threads
                body = {"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": f"R-{i}"}
                started = time.perf_counter()
                try:
                    answer = http.post(f"{self.fed.api_url}/v1/scores", json=body)
                except httpx.TransportError as exc:
                    with self._lock:
                        self.requests += 1
                        if self.platform_down.is_set():
                            self.unreachable += 1
                        else:
                            self.errors.append(f"{type(exc).__name__}: {exc}"[:160])
                    time.sleep(0.2)
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                with self._lock:
                    self.requests += 1
                    if answer.status_code == 200:
                        self.latencies_ms.append(elapsed)
                        continue
                    code_text = answer.json().get("code", "") if answer.headers.get("content-type", "").startswith(
                        "application/json") else ""
                    if (answer.status_code, code_text) in DOCUMENTED_REFUSALS:
                        self.refused[code_text] = self.refused.get(code_text, 0) + 1
                    else:
                        self.errors.append(f"{answer.status_code} {code_text}: {answer.text[:120]}")
                if answer.status_code != 200:
                    time.sleep(0.05)


@dataclass
class Bench:
    fed: LocalFederation
    trees: int
    key_bits: int
    load: Load | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def job(self, name: str) -> str:
        return _job(self.trees, self.key_bits, name)

    def run_job(self, name: str, *, at_tree: int | None = None, fault: Callable[[str], str | None] | None = None,
                spec: str | None = None) -> tuple[str, float]:
        """Submit a job (`spec`, or the bench's SecureBoost job), apply `fault(job_id)` when tree `at_tree` is
        done, follow the job to its end."""
        started = time.monotonic()
        marker = None if at_tree is None else f"tree {at_tree}/{self.trees}"
        with self.fed.client() as client:
            job_id = client.submit(spec or self.job(name))
            done = False
            with contextlib.suppress(OperatorError):  # the coordinator itself may be the one killed
                for event in client.watch(job_id, timeout=3600):
                    if event.message and event.party == "coordinator/main":
                        _log(f"{name}: {event.message}")
                    if not done and marker and marker in event.message and fault is not None:
                        done = True
                        if fault(job_id) == "stop watching":
                            break
        self.wait(job_id)
        return job_id, time.monotonic() - started

    def wait(self, job_id: str) -> Any:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            try:
                with self.fed.client() as client:
                    for _ in client.watch(job_id, timeout=3600):
                        pass
                    return client.status(job_id)
            except OperatorError as exc:  # the coordinator is restarting
                _log(f"waiting for the coordinator: {exc}")
                time.sleep(1.0)
        raise SystemExit(f"{job_id} did not end")

    def status(self, job_id: str) -> Any:
        with self.fed.client() as client:
            return client.status(job_id)

    def same_as_uninterrupted(self, status: Any) -> float:
        """Largest prediction difference between the published model and the job replayed uninterrupted."""
        publish = next(s for s in status.stages if s.stage == "publish")
        model_id = json.loads(publish.results["platform/main"])["model_id"]
        active, passives = replay_secureboost(self.fed, status.job_id, self.job("x"))
        return float(np.max(np.abs(published_predictions(self.fed, model_id) - predictions(self.fed, active, passives))))

    def record(self, name: str, passed: bool, **details: Any) -> None:
        self.results[name] = {"passed": passed, **details}
        _log(f"{name}: {'PASSED' if passed else 'FAILED'} {details}")


def _train_stage(status: Any) -> Any:
    return next(s for s in status.stages if s.stage == "train")


def _crash_scenario(bench: Bench, party: str) -> None:
    fed = bench.fed

    def crash(_: str) -> str | None:
        if party == "platform/main" and bench.load is not None:
            bench.load.platform_down.set()
        fed.kill(party)
        _log(f"{party} killed")
        fed.restart(party)
        _log(f"{party} restarted")
        if bench.load is not None:
            bench.load.platform_down.clear()
        return "stop watching" if party == "coordinator/main" else None  # its watch stream broke

    name = f"{party.split('/')[0]}_crash"
    job_id, seconds = bench.run_job(name, at_tree=2, fault=crash)
    status = bench.wait(job_id)
    train = _train_stage(status)
    difference = bench.same_as_uninterrupted(status) if status.state == "SUCCEEDED" else None
    bench.record(name, status.state == "SUCCEEDED" and train.attempts >= 2 and train.resumed_from >= 2
                 and difference is not None and difference <= 1e-9,
                 job=job_id, state=status.state, error=status.error, attempts=train.attempts,
                 resumed_from=train.resumed_from, seconds=round(seconds, 1), max_prediction_difference=difference)


LR_JOB = """
[job]
name = "{name}"
project = "sandbox"
stages = ["psi", "train"]
[parties]
active = "platform/main"
passive = [{passive}]
[psi]
reveal = "both"
[train]
algorithm = "hetero_lr"
model_name = "resilience-lr"
holdout = 0.25
encrypted = false
epochs = 30
batch_size = 256
tol = 0.0
seed = 7
"""
PSI_JOB = """
[job]
name = "{name}"
project = "sandbox"
stages = ["psi"]
[parties]
active = "platform/main"
passive = [{passive}]
[psi]
reveal = "both"
batch_size = {batch}
"""


def _job_folder(fed: LocalFederation, party: str, job_id: str) -> Path:
    return fed.state_dir / "nodes" / party.replace("/", "-") / "state" / "jobs" / job_id


def _crash_at_unit(bench: Bench, spec: str, party: str, stage: str, unit: int) -> tuple[str, float]:
    """Submit `spec`, SIGKILL `party` once it holds checkpoint `unit` of `stage`, restart it, wait for the end."""
    fed, started = bench.fed, time.monotonic()
    with fed.client() as client:
        job_id = client.submit(spec)
    folder = _job_folder(fed, party, job_id) / "checkpoints" / stage
    deadline, checked = time.monotonic() + 1800, time.monotonic()
    while time.monotonic() < deadline:
        held = [int(p.stem) for p in folder.glob("*.ckpt")] if folder.is_dir() else []
        if held and max(held) >= unit:
            fed.kill(party)
            _log(f"{party} killed at {stage} checkpoint {max(held)}")
            fed.restart(party)
            break
        if time.monotonic() - checked > 0.5:
            checked = time.monotonic()
            if bench.status(job_id).state not in ("PENDING", "RUNNING"):
                break  # ended before the unit: the scenario fails on its attempts
        time.sleep(0.005)
    bench.wait(job_id)
    return job_id, time.monotonic() - started


def _stage(status: Any, name: str) -> Any:
    return next(s for s in status.stages if s.stage == name)


def _lr_predictions(fed: LocalFederation, job_id: str) -> np.ndarray:
    scores = np.load(_job_folder(fed, "platform/main", job_id) / "lr-scores.npz")
    return np.concatenate([scores["p_train"], scores["p_holdout"]])


def _lr_source_crash(bench: Bench) -> None:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    reference, _ = bench.run_job("lr_reference", spec=LR_JOB.format(name="lr-reference", passive=passive))
    job_id, seconds = _crash_at_unit(bench, LR_JOB.format(name="lr-crash", passive=passive), "source/tax",
                                     "train", 2)
    status = bench.status(job_id)
    train = _stage(status, "train")
    difference = None
    if status.state == "SUCCEEDED" and bench.status(reference).state == "SUCCEEDED":
        difference = float(np.max(np.abs(_lr_predictions(bench.fed, job_id) - _lr_predictions(bench.fed, reference))))
    bench.record("lr_source_crash", status.state == "SUCCEEDED" and train.attempts >= 2 and train.resumed_from >= 1
                 and difference is not None and difference <= 1e-9, job=job_id, state=status.state,
                 error=status.error, attempts=train.attempts, resumed_from_epoch=train.resumed_from,
                 seconds=round(seconds, 1), max_prediction_difference=difference)


def _psi_source_crash(bench: Bench, enterprises: int) -> None:
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    batch = max(10, enterprises // 40)
    reference, _ = bench.run_job("psi_reference", spec=PSI_JOB.format(name="psi-reference", passive=passive,
                                                                      batch=batch))
    job_id, seconds = _crash_at_unit(bench, PSI_JOB.format(name="psi-crash", passive=passive, batch=batch),
                                     "source/tax", "psi", 4)
    status = bench.status(job_id)
    psi = _stage(status, "psi")

    def found(job: str) -> dict[str, list[str]]:
        platform = _job_folder(bench.fed, "platform/main", job)
        return ({p: read_intersection(platform, f"source/{p}") for p in SOURCES}
                | {f"source/{p}": read_intersection(_job_folder(bench.fed, f"source/{p}", job)) for p in SOURCES})

    identical = status.state == "SUCCEEDED" and found(job_id) == found(reference)
    bench.record("psi_source_crash", identical and psi.attempts >= 2 and psi.resumed_from >= 1, job=job_id,
                 state=status.state, error=status.error, attempts=psi.attempts, resumed_from_round=psi.resumed_from,
                 batch_size=batch, seconds=round(seconds, 1), intersections_identical=identical)


def _link_dropped(bench: Bench, resume_wait: float) -> None:
    fed, party = bench.fed, "source/utilities"

    def drop(_: str) -> None:
        fed.kill(party)

    job_id, seconds = bench.run_job("link_dropped", at_tree=2, fault=drop)
    failed = bench.status(job_id)
    clear = (failed.state == "FAILED" and party in failed.error and "not answering after" in failed.error
             and "Cancelling" not in failed.error)
    fed.restart(party)
    with fed.client() as client:
        client.resume(job_id)
    status = bench.wait(job_id)
    difference = bench.same_as_uninterrupted(status) if status.state == "SUCCEEDED" else None
    bench.record("link_dropped", clear and status.state == "SUCCEEDED" and difference is not None
                 and difference <= 1e-9, job=job_id, failure=failed.error, seconds_to_fail=round(seconds, 1),
                 state_after_resume=status.state, resumed_from=_train_stage(status).resumed_from,
                 max_prediction_difference=difference, resume_wait_s=resume_wait)


def _certificate_revoked(bench: Bench) -> None:
    fed, party = bench.fed, "source/tax"

    def revoke(_: str) -> None:
        CertificateAuthority.load(fed.pki_dir).revoke_identity(Identity.parse(party))

    job_id, seconds = bench.run_job("certificate_revoked", at_tree=1, fault=revoke)
    status = bench.status(job_id)
    bench.record("certificate_revoked", status.state == "FAILED" and f"{party} was revoked" in status.error
                 and status.error.startswith(f"stage train: {party}: PEER_REFUSED")
                 and _train_stage(status).attempts == 1,
                 job=job_id, error=status.error, seconds=round(seconds, 1))


def _disk_full(bench: Bench, mount: Path | None, why_not: str, headers: dict[str, str], codes: list[str]) -> None:
    if mount is None:
        bench.results["disk_full"] = {"skipped": why_not}
        _log(f"disk_full: skipped ({why_not})")
        return
    filler = mount / "filler"
    refused = served_while_full = 0
    with httpx.Client(timeout=30.0, headers=headers) as http:
        def score(i: int) -> httpx.Response:
            return http.post(f"{bench.fed.api_url}/v1/scores", json={
                "credit_code": codes[i % len(codes)], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": f"D-{i}"})

        with open(filler, "wb") as out:
            chunk = b"\0" * (1 << 20)
            with contextlib.suppress(OSError):
                while True:
                    out.write(chunk)
                    out.flush()
        for i in range(200):
            answer = score(i)
            if answer.status_code == 503 and answer.json().get("code") == "AUDIT_STORE_UNAVAILABLE":
                refused += 1
            elif answer.status_code == 200:
                served_while_full += 1
        filler.unlink()
        time.sleep(0.5)
        after = [score(1000 + i).status_code for i in range(20)]
    bench.record("disk_full", refused > 0 and after.count(200) == len(after), refused_while_full=refused,
                 served_while_full=served_while_full, served_after_room=after.count(200))


def _mount_tmpfs(path: Path, size_mb: int) -> str:
    """'' if a tmpfs of `size_mb` is now mounted at `path`, else why not."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return "no mount command"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True, timeout=30)
    return "" if proc.returncode == 0 else f"cannot mount a tmpfs: {proc.stderr.strip() or proc.returncode}"


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks resilience")
    parser.add_argument("--enterprises", type=int, default=3000)
    parser.add_argument("--trees", type=int, default=8)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--resume-wait", type=float, default=120.0,
                        help="seconds the coordinator waits for a lost party ([jobs] resume_wait_seconds)")
    parser.add_argument("--load-threads", type=int, default=4)
    parser.add_argument("--workdir", help="keep data, state and logs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.trees < 4:
        raise SystemExit("--trees must be at least 4 (faults strike at tree 2)")
    with tempfile.TemporaryDirectory(prefix="xyd-bench-resilience-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        manifest = generate(args.enterprises, 21, work / "data")
        units = {u.name: NodeData(work / "data" / u.schema, work / "data" / u.table) for u in manifest.units}
        mount = work / "api-disk"
        why_not = _mount_tmpfs(mount, 256) if os.geteuid() == 0 else "not root: no tmpfs to fill"
        api_disk = None if why_not else mount
        fed = LocalFederation(
            work / "state", NodeData(work / "data" / manifest.platform.schema, work / "data" / manifest.platform.table),
            {s: units[s] for s in SOURCES}, ready_timeout=180,
            # Plaintext training for the LR scenario only (its job asks for it): runs are then reproducible.
            node_policy={"allow_plaintext_training": True,
                         **({"allow_insecure_keys_for_tests": True} if args.key_bits < 2048 else {})},
            api_database_url=None if api_disk is None else f"sqlite:///{api_disk / 'platform-api.db'}",
            coordinator_jobs={"resume_wait_seconds": args.resume_wait, "resume_poll_seconds": 1})
        bench = Bench(fed, args.trees, args.key_bits)
        try:
            with fed:
                return _scenarios(bench, args, work, manifest, api_disk, why_not)
        finally:
            if api_disk is not None:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def _scenarios(bench: Bench, args: argparse.Namespace, work: Path, manifest: Any, api_disk: Path | None,
               why_not: str) -> dict:
    fed = bench.fed
    _log("training the served model (uninterrupted)")
    job_id, reference_seconds = bench.run_job("reference")
    reference = bench.status(job_id)
    if reference.state != "SUCCEEDED":
        raise SystemExit(f"the first training failed: {reference.error}")
    replay_difference = bench.same_as_uninterrupted(reference)
    key = onboard(fed.platform_config, "resilience-bank", "Resilience Bank", limits=(1e6, 100_000, 100_000_000))
    now = datetime.now(UTC)
    subprocess.run([sys.executable, "-m", "cli.main", "institution", "agreement", "--config", str(fed.platform_config),
                    "bank/resilience-bank", "--scope", "BULK_SCORING", "--reference", "DSA-RES-1", "--not-before",
                    (now - timedelta(days=1)).isoformat(), "--not-after", (now + timedelta(days=30)).isoformat()],
                   check=True, capture_output=True, timeout=60)
    codes = sorted(pd.read_csv(work / "data" / manifest.platform.table, usecols=["credit_code"],
                               dtype=str)["credit_code"])
    headers = {"Authorization": f"Bearer {key}"}
    load = bench.load = Load(fed, headers, codes, threads=args.load_threads)
    load.start()
    try:
        _crash_scenario(bench, "platform/main")  # first: the platform process measured below is the restarted one
        time.sleep(5)  # its first scores load the model and open channels
        platform = psutil.Process(fed.member("platform/main").process.pid)
        rss_start = platform.memory_info().rss
        _crash_scenario(bench, "source/tax")
        _crash_scenario(bench, "coordinator/main")
        _lr_source_crash(bench)
        _psi_source_crash(bench, args.enterprises)
        _link_dropped(bench, args.resume_wait)
        _disk_full(bench, api_disk, why_not, headers, codes)
        _certificate_revoked(bench)  # last: source/tax stays revoked
        rss_end = platform.memory_info().rss
    finally:
        load.stop()
    database = api_disk / "platform-api.db" if api_disk else fed.node_state("platform", "main") / "platform-api.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        pairs = unpaired(engine)
    finally:
        engine.dispose()
    ran = {k: v for k, v in bench.results.items() if "skipped" not in v}
    resumed = [v.get("max_prediction_difference") for v in ran.values() if "max_prediction_difference" in v]
    resumed += [0.0 if v["intersections_identical"] else None for v in ran.values() if "intersections_identical" in v]
    latencies = np.array(load.latencies_ms) if load.latencies_ms else np.array([0.0])
    return {
        "scenarios": len(ran), "scenarios_passed": sum(1 for v in ran.values() if v["passed"]),
        "skipped": {k: v["skipped"] for k, v in bench.results.items() if "skipped" in v},
        "resumed_identical": bool(resumed) and all(d is not None and d <= 1e-9 for d in resumed),
        "uses_without_leaf": pairs.uses_without_leaf, "leaves_without_use": pairs.leaves_without_use,
        "load_requests": load.requests, "load_errors": len(load.errors), "load_error_samples": sorted(set(load.errors))[:5],
        "load_refused": load.refused, "load_unreachable": load.unreachable,
        "load_served": len(load.latencies_ms),
        "load_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "load_p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "rss_growth_mb": round((rss_end - rss_start) / 2**20, 1),
        "reference_train_seconds": round(reference_seconds, 1), "reference_replay_difference": replay_difference,
        "enterprises": args.enterprises, "trees": args.trees, "key_bits": args.key_bits,
        "details": bench.results, "load_average_1m": round(os.getloadavg()[0], 2),
    }
