"""A real loopback deployment whose ServerApp process is SIGKILLed after round 2 of a cyclic XGBoost run:
a new `flwr run` with the same `checkpoint-dir` continues at round 3 and publishes the booster of an
uninterrupted run byte for byte (bank_federation/checkpoint.py)."""

from __future__ import annotations

import signal
import threading
import time

import psutil
import pytest

from bank_federation.checkpoint import AggregatorCheckpoints
from bank_federation.deployment import BankSpec, DeploymentError, LoopbackDeployment
from models.horizontal import read_model_file
from tests.models.horizontal.synthetic import make_table, write_csv

ROUNDS = 5


def _run_processes() -> list[psutil.Process]:
    """The ServerApp process of the run under way and the operator's `flwr run` streaming its log."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            line = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        text = " ".join(line)
        if "flwr-serverapp" in text or "/flwr run " in text:
            found.append(child)
    return found


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_a_serverapp_killed_mid_run_resumes_from_its_round_checkpoint_to_the_same_booster(tmp_path):
    banks = [BankSpec(f"bank{i}", write_csv(make_table(600, seed=50 + i), tmp_path / f"bank{i}.csv")) for i in range(2)]
    config = {"model": "xgboost", "num-rounds": ROUNDS, "num-banks": 2, "trees-per-round": 2, "wait-timeout": 90}
    checkpoints = tmp_path / "aggregator"
    with LoopbackDeployment(tmp_path / "deploy", banks, step_timeout=90) as deployment:
        whole = deployment.run(config, timeout=240)
        outcome: dict[str, object] = {}

        def first_run() -> None:
            try:
                outcome["report"] = deployment.run({**config, "checkpoint-dir": str(checkpoints)}, timeout=240)
            except DeploymentError as exc:
                outcome["error"] = exc

        runner = threading.Thread(target=first_run, daemon=True)
        runner.start()
        store = AggregatorCheckpoints(checkpoints)
        deadline = time.monotonic() + 180
        while not (store.rounds() and store.rounds()[-1] >= 2):
            assert time.monotonic() < deadline and runner.is_alive(), f"no round 2 checkpoint: {outcome}"
            time.sleep(0.05)
        doomed = _run_processes()
        assert any("flwr-serverapp" in " ".join(p.cmdline()) for p in doomed), "no ServerApp process to kill"
        for process in doomed:  # the platform's machine going down: ServerApp and the operator's client
            process.send_signal(signal.SIGKILL)
        killed_at = store.rounds()[-1]
        runner.join(60)
        assert not runner.is_alive() and "report" not in outcome, f"the killed run went on: {outcome}"
        resumed = deployment.run({**config, "checkpoint-dir": str(checkpoints)}, timeout=240)
    assert 2 <= killed_at < ROUNDS and resumed["resumed_from_round"] >= killed_at
    assert [r["round"] for r in resumed["per_round"]] == list(range(1, ROUNDS + 1))
    before = read_model_file(deployment.workdir / whole["output_dir"] / "model.json")
    after = read_model_file(deployment.workdir / resumed["output_dir"] / "model.json")
    assert after.booster == before.booster and resumed["final"] == whole["final"]
