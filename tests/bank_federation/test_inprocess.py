"""The ServerApp driver and the banks' ClientApp end to end through the in-process grid (no SuperLink)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tenseal as ts
from flwr.app import RecordDict

from bank_federation import cli, records
from bank_federation.aggregator import BankFederation
from bank_federation.client_app import app as client_app
from bank_federation.inprocess import InProcessGrid
from bank_federation.records import MessageKind, ProtocolError
from bank_federation.server_app import write_outputs
from bank_federation.settings import RunSettings
from models.horizontal import BankKeyring, InvalidParameterError, KeyMismatchError, read_model_file
from models.metrics import auc
from tests.models.horizontal.synthetic import make_table, write_csv


class RecordingGrid(InProcessGrid):
    """Keeps every reply the aggregator receives, to check what it can and cannot read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies: list[tuple[str, RecordDict]] = []

    def pull_messages(self, message_ids):
        got = list(super().pull_messages(message_ids))
        self.replies += [(m.metadata.message_type, m.content) for m in got if m.has_content()]
        return got


@pytest.fixture(scope="module")
def bank_nodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("banks")
    keyring = BankKeyring.generate()
    keyring.write(folder / "keyring.json")
    return [{"bank": f"bank{i}", "data-path": str(write_csv(make_table(900, seed=20 + i), folder / f"b{i}.csv")),
             "keyring-path": str(folder / "keyring.json")} for i in range(2)]


def _run(nodes, run_config, grid_cls=InProcessGrid):
    grid = grid_cls(client_app, nodes, run_config, run_id=42)
    return BankFederation(grid, RunSettings.from_run_config(run_config), sleep=lambda s: None).run(), grid


def test_logistic_run_publishes_a_working_model_and_the_aggregator_reads_no_update(bank_nodes, tmp_path):
    config = {"model": "logistic", "num-rounds": 3, "num-banks": 2, "bins": 6, "learning-rate": 0.5, "local-epochs": 3}
    result, grid = _run(bank_nodes, config, RecordingGrid)
    report = result.report
    assert report["banks"] == ["bank0", "bank1"] and report["strategy"] == "fedavg"
    assert len(report["per_round"]) == 3 and report["per_round"][0]["holdout_auc_of_incoming_model"] is None
    assert report["bytes_on_wire"] == report["bytes_sent"] + report["bytes_received"] > 100_000
    # What the aggregator received during training: ciphertexts it has no key for, and aggregate figures.
    setup = [c for kind, c in grid.replies if kind == MessageKind.SETUP.value]
    context = ts.context_from(bytes(records.field(setup[0], records.REPLY, "context")))
    assert not context.has_secret_key() and not context.has_public_key()
    for kind, content in grid.replies:
        if kind == MessageKind.TRAIN_LOGISTIC.value:
            assert set(content.config_records[records.REPLY]) == {"bank", "payload"}
            assert set(records.figures_of(content)) <= {"holdout-auc", "holdout-ks", "holdout-rows", "train-loss"}
            with pytest.raises(ValueError):
                ts.ckks_vector_from(context, bytes(records.field(content, records.REPLY, "payload"))).decrypt()
    out = tmp_path / "out"
    write_outputs(result, out)
    saved = json.loads((out / "report.json").read_text())
    model = read_model_file(out / "model.json")
    assert saved["model_sha256"] == json.loads((out / "model.json").read_text())["sha256"]
    test = make_table(3000, seed=77)
    assert auc(test.labels, model.predict_proba(test.features)) > 0.7


def test_fedprox_and_dp_are_recorded_in_the_report_and_model(bank_nodes):
    config = {"model": "logistic", "num-rounds": 2, "num-banks": 2, "bins": 6, "proximal-mu": 0.1,
              "dp-noise-multiplier": 1.1, "dp-clip-norm": 1.0}
    result, _ = _run(bank_nodes, config)
    privacy = result.report["privacy"]
    assert result.report["strategy"] == "fedprox"
    assert privacy["noise_multiplier"] == 1.1 and 0 < privacy["epsilon"] < 20
    assert result.model.training["privacy"] == privacy


def test_cyclic_xgboost_relays_a_model_it_cannot_read(bank_nodes):
    config = {"model": "xgboost", "num-rounds": 3, "num-banks": 2, "trees-per-round": 2}
    result, grid = _run(bank_nodes, config, RecordingGrid)
    trained = [c for kind, c in grid.replies if kind == MessageKind.TRAIN_XGBOOST.value]
    assert [str(records.field(c, records.REPLY, "bank")) for c in trained] == ["bank0", "bank1", "bank0"]
    assert all(b"learner" not in bytes(records.field(c, records.REPLY, "payload")) for c in trained)
    assert result.report["aggregation"].startswith("sealed-relay") and result.model.kind == "xgboost"
    test = make_table(2000, seed=78)
    assert auc(test.labels, result.model.predict_proba(test.features)) > 0.7


def test_a_bank_with_another_key_stops_the_run(bank_nodes, tmp_path):
    BankKeyring.generate().write(tmp_path / "other.json")
    nodes = [bank_nodes[0], {**bank_nodes[1], "keyring-path": str(tmp_path / "other.json")}]
    with pytest.raises(KeyMismatchError):
        _run(nodes, {"model": "logistic", "num-rounds": 1, "num-banks": 2})


def test_a_failing_bank_surfaces_as_a_protocol_error(bank_nodes, tmp_path):
    nodes = [bank_nodes[0], {**bank_nodes[1], "data-path": str(tmp_path / "missing.csv")}]
    with pytest.raises(ProtocolError, match="bank|node"):
        _run(nodes, {"model": "logistic", "num-rounds": 1, "num-banks": 2})


def test_too_few_banks_time_out_waiting(bank_nodes):
    clock = iter(np.arange(0, 1000, 1.0))
    grid = InProcessGrid(client_app, bank_nodes[:1], {"num-banks": 2})
    fed = BankFederation(grid, RunSettings.from_run_config({"num-banks": 2, "wait-timeout": 5}),
                         clock=lambda: float(next(clock)), sleep=lambda s: None)
    with pytest.raises(ProtocolError, match="1 of 2 banks"):
        fed.run()


@pytest.mark.parametrize("config", [{"model": "forest"}, {"num-rounds": 0}, {"num-banks": 1, "min-banks": 1},
                                    {"bins": 1}, {"dp-noise-multiplier": 1.0, "dp-delta": 2.0}])
def test_invalid_run_settings_are_refused(config):
    with pytest.raises(InvalidParameterError):
        RunSettings.from_run_config(config)


def test_cli_runs_in_process_and_writes_the_model(bank_nodes, tmp_path, capsys):
    banks = [f"{n['bank']}={n['data-path']}" for n in bank_nodes]
    code = cli.main(["federate-banks", *[a for b in banks for a in ("--bank", b)], "--rounds", "2", "--in-process",
                     "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--set", "bins=5"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["banks"] == ["bank0", "bank1"] and summary["model_sha256"]
    assert read_model_file(tmp_path / "out" / "model.json").kind == "logistic"
    assert cli.main(["federate-banks", "--bank", banks[0], "--in-process"]) == 2


def test_record_fields_of_the_wrong_type_are_protocol_errors():
    content = records.job(round="3", sealed=b"x")
    assert records.bytes_field(content, records.JOB, "sealed") == b"x"
    with pytest.raises(ProtocolError):
        records.int_field(content, records.JOB, "round")
    with pytest.raises(ProtocolError):
        records.bytes_field(content, records.JOB, "missing")
