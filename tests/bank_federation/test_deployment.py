"""A real loopback deployment: flower-superlink and one flower-supernode per bank as separate processes,
TLS and SuperNode authentication, no runtime dependency installation. Takes 1-2 minutes on 2 busy cores.
"""

from __future__ import annotations

import json

import psutil
import pytest

from bank_federation.deployment import BankSpec, LoopbackDeployment
from models.horizontal import read_model_file
from models.metrics import auc
from tests.models.horizontal.synthetic import make_table, write_csv


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_two_banks_train_over_tls_with_node_auth_and_an_unregistered_node_is_kept_out(tmp_path):
    banks = [BankSpec(f"bank{i}", write_csv(make_table(900, seed=30 + i), tmp_path / f"bank{i}.csv")) for i in range(2)]
    rogue = BankSpec("rogue", write_csv(make_table(300, seed=39), tmp_path / "rogue.csv"))
    me = psutil.Process()
    with LoopbackDeployment(tmp_path / "deploy", banks, step_timeout=90) as deployment:
        deployment.start_bank(rogue, register=False)
        config = deployment.flwr_home / "config.toml"
        assert "root-certificates" in config.read_text() and "insecure" not in config.read_text()
        report = deployment.run({"model": "logistic", "num-rounds": 2, "num-banks": 2, "bins": 6,
                                 "learning-rate": 0.5, "local-epochs": 3, "wait-timeout": 90}, timeout=300)
        assert len(me.children(recursive=True)) >= 4  # superlink, 3 supernodes and their helpers
    assert report["banks"] == ["bank0", "bank1"]  # the unregistered node never joined
    assert "Failed to activate SuperNode" in (deployment.logs / "supernode-rogue.log").read_text()
    assert report["rounds"] == 2 and report["bytes_on_wire"] > 0
    assert "TLS" in report["deployment"]
    model = read_model_file(deployment.workdir / report["output_dir"] / "model.json")
    saved = json.loads((deployment.workdir / report["output_dir"] / "report.json").read_text())
    assert saved["model_sha256"] == report["model_sha256"]
    test = make_table(2000, seed=79)
    assert auc(test.labels, model.predict_proba(test.features)) > 0.7
    assert [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE] == []
