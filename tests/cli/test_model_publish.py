"""`xyd model register --publish-to DIR` against a real coordinator (mTLS, in this process): the model enters
the registry and lands in DIR as `<model_id>.json`, whole; a file that does not verify goes nowhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from cli.operator_client import CoordinatorClient, OperatorConfig
from coordinator.serve import serve
from federation.config import load_node_config
from federation.pki import CertificateAuthority, Identity
from models.horizontal import read_published, write_model_file
from tests.models.horizontal.tiny_models import logistic_model


def _tls_lines(pki: Path, identity: Identity) -> list[str]:
    node = pki / "nodes" / f"{identity.role}-{identity.name}"
    return ["[tls]", f'ca = "{pki / "ca.pem"}"', f'cert = "{node / "cert.pem"}"', f'key = "{node / "key.pem"}"']


@pytest.fixture
def operator(tmp_path: Path) -> Iterator[Path]:
    """A coordinator serving on port 0 in a thread; yields the operator TOML that reaches it."""
    pki = tmp_path / "pki"
    ca = CertificateAuthority.create(pki)
    coordinator, admin = Identity("coordinator", "main"), Identity("admin", "operator")
    ca.issue(coordinator)
    ca.issue(admin)
    state = tmp_path / "coordinator"
    config_path = tmp_path / "coordinator.toml"
    config_path.write_text("\n".join(["[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{state}"', "",
                                      *_tls_lines(pki, coordinator)]), encoding="utf-8")
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(load_node_config(config_path), stop), daemon=True)
    thread.start()
    try:
        address_file = state / "address"
        for _ in range(200):
            if address_file.exists() and address_file.read_text().strip():
                break
            stop.wait(0.05)
        else:
            raise RuntimeError("the coordinator did not start")
        path = tmp_path / "operator.toml"
        path.write_text("\n".join(["[coordinator]", f'address = "{address_file.read_text().strip()}"', "",
                                   *_tls_lines(pki, admin)]), encoding="utf-8")
        yield path
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def _register(operator: Path, model_file: Path, publish_to: Path) -> int:
    return main(["model", "register", "--file", str(model_file), "--name", "banks-common-risk",
                 "--operator", str(operator), "--publish-to", str(publish_to)])


def test_register_then_publish_writes_the_whole_file_under_its_registry_id(operator, tmp_path, capsys):
    model_file = tmp_path / "run" / "model.json"
    sha = write_model_file(logistic_model(), model_file)
    served = tmp_path / "platform" / "models" / "horizontal"
    assert _register(operator, model_file, served) == 0
    model_id = f"hz-m{sha[:16]}"
    assert f"registered {model_id}" in capsys.readouterr().out
    assert [p.name for p in served.iterdir()] == [f"{model_id}.json"]  # no temporary left behind
    assert (served / f"{model_id}.json").read_bytes() == model_file.read_bytes()
    assert read_published(served / f"{model_id}.json").model_id == model_id
    with CoordinatorClient(OperatorConfig.load(operator)) as client:
        entries = {m.model_id: m for m in client.models()}
    assert entries[model_id].algorithm == "horizontal_logistic"


def test_a_model_file_that_does_not_verify_is_neither_registered_nor_published(operator, tmp_path, capsys):
    model_file = tmp_path / "model.json"
    write_model_file(logistic_model(), model_file)
    doc = json.loads(model_file.read_text())
    doc["weights"][0] += 1.0
    model_file.write_text(json.dumps(doc))
    served = tmp_path / "served"
    assert _register(operator, model_file, served) == 2
    assert "integrity" in capsys.readouterr().err
    assert not served.exists()
    with CoordinatorClient(OperatorConfig.load(operator)) as client:
        assert client.models() == []
