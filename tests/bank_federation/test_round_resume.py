"""The aggregator's round checkpoints through the in-process grid: a ServerApp run that dies after round k
and a new run over the same `checkpoint-dir` continue at round k + 1. Cyclic XGBoost is deterministic
(seeded, one thread), so the resumed run publishes the uninterrupted run's booster byte for byte; logistic
rounds draw fresh OS entropy at the banks, so there the resumed run continues from the saved encrypted sum."""

from __future__ import annotations

import pytest

from bank_federation.aggregator import BankFederation
from bank_federation.checkpoint import AggregatorCheckpoints
from bank_federation.client_app import app as client_app
from bank_federation.inprocess import InProcessGrid
from bank_federation.records import ProtocolError
from bank_federation.settings import RunSettings
from models.horizontal import BankKeyring
from tests.models.horizontal.synthetic import make_table, write_csv


class Killed(Exception):
    """The ServerApp process going away in the middle of a round."""


def _nodes(folder, keyring: BankKeyring) -> list[dict]:
    keyring.write(folder / "keyring.json")
    return [{"bank": f"bank{i}", "data-path": str(write_csv(make_table(700, seed=40 + i), folder / f"b{i}.csv")),
             "keyring-path": str(folder / "keyring.json")} for i in range(2)]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    return _nodes(tmp_path_factory.mktemp("banks"), BankKeyring.generate())


def _run(nodes, config, *, run_id: int, kill_at: int = 0):
    class Grid(InProcessGrid):
        def push_messages(self, messages):
            messages = list(messages)
            if kill_at and any(m.metadata.group_id == f"round-{kill_at}" for m in messages):
                raise Killed(kill_at)
            return super().push_messages(messages)

    grid = Grid(client_app, nodes, config, run_id=run_id)
    return BankFederation(grid, RunSettings.from_run_config(config), sleep=lambda s: None).run()


def test_a_cyclic_xgboost_run_killed_after_round_2_resumes_to_the_uninterrupted_booster(nodes, tmp_path) -> None:
    config = {"model": "xgboost", "num-rounds": 4, "num-banks": 2, "trees-per-round": 2}
    whole = _run(nodes, config, run_id=7)
    resumable = {**config, "checkpoint-dir": str(tmp_path / "ckpt")}
    with pytest.raises(Killed):
        _run(nodes, resumable, run_id=8, kill_at=3)
    assert AggregatorCheckpoints(tmp_path / "ckpt").rounds() == [1, 2]
    resumed = _run(nodes, resumable, run_id=9)  # a new Flower run: its boosters stay bound to run 8
    assert resumed.report["resumed_from_round"] == 2 and whole.report["resumed_from_round"] == 0
    assert resumed.model.booster == whole.model.booster
    assert resumed.report["final"] == whole.report["final"]
    assert [r["round"] for r in resumed.report["per_round"]] == [1, 2, 3, 4]


def test_a_logistic_run_resumes_from_the_saved_encrypted_sum(nodes, tmp_path) -> None:
    config = {"model": "logistic", "num-rounds": 3, "num-banks": 2, "bins": 6, "learning-rate": 0.5,
              "checkpoint-dir": str(tmp_path / "ckpt")}
    with pytest.raises(Killed):
        _run(nodes, config, run_id=11, kill_at=3)
    saved = AggregatorCheckpoints(tmp_path / "ckpt").latest()
    assert saved is not None and saved.round == 2 and saved.model_sum
    resumed = _run(nodes, config, run_id=12)
    assert resumed.report["resumed_from_round"] == 2
    assert [r["round"] for r in resumed.report["per_round"]] == [1, 2, 3]
    assert [r["banks"] for r in resumed.report["per_round"][:2]] == [r["banks"] for r in saved.rounds]
    assert resumed.report["final"]["holdout_auc"] > 0.6


def test_a_checkpoint_made_under_another_bank_key_is_refused(nodes, tmp_path) -> None:
    config = {"model": "xgboost", "num-rounds": 3, "num-banks": 2, "trees-per-round": 1,
              "checkpoint-dir": str(tmp_path / "ckpt")}
    with pytest.raises(Killed):
        _run(nodes, config, run_id=21, kill_at=2)
    other = _nodes(tmp_path, BankKeyring.generate())
    with pytest.raises(ProtocolError, match="another bank key"):
        _run(other, config, run_id=22)
