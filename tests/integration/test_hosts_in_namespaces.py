"""A federation whose nodes are separate hosts: each in its own network namespace, listening on every
interface of its host and reachable by the others only at the address it advertises (the relay's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from cli.operator_client import stage_results
from sandbox.launcher import LocalFederation, NodeData
from sandbox.network import SlowNetwork, unavailable_reason
from sandbox.synthdata import generate

REASON = unavailable_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or "")]
SOURCES = ("tax",)
PARTIES = ["coordinator/main", "platform/main", *(f"source/{s}" for s in SOURCES)]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("data")
    generate(400, 5, data)
    with SlowNetwork(PARTIES, rtt_ms=4, rate_mbit=None, services={"platform/main": {"api": 8443}}) as network:
        fed = LocalFederation(
            tmp_path_factory.mktemp("fed") / "state", NodeData(data / "platform.toml", data / "platform.csv"),
            {s: NodeData(data / f"{s}.toml", data / f"{s}.csv") for s in SOURCES}, placement=network,
            cert_hosts={"source/tax": ("tax.example",)})
        with fed:
            yield fed, network


def test_nodes_register_the_address_they_advertise(federation) -> None:
    fed, network = federation
    with fed.client() as client:
        registered = {n.party: n.address for n in client.nodes()}
    assert registered == {p: network.address(p) for p in PARTIES[1:]}
    assert all(not address.startswith("127.") for address in registered.values())


def test_a_psi_job_runs_across_the_hosts(federation) -> None:
    fed, _ = federation
    passive = ", ".join(f'"source/{s}"' for s in SOURCES)
    with fed.client() as client:
        job = client.submit(f'[job]\nname = "hosts"\nstages = ["psi"]\n[parties]\nactive = "platform/main"\n'
                            f'passive = [{passive}]\n[psi]\nreveal = "both"\n')
        list(client.watch(job, timeout=120))
        status = client.status(job)
    assert status.state == "SUCCEEDED", status.error
    sizes = stage_results(status)["psi"]
    assert all(sizes[f"source/{s}"]["intersection"] > 0 for s in SOURCES), sizes


def test_each_node_reports_healthy_from_its_own_host(federation) -> None:
    fed, network = federation
    for party in PARTIES:
        role, name = party.split("/")
        config = fed.state_dir / "nodes" / f"{role}-{name}" / "node.toml"
        done = subprocess.run([*network.command_prefix(party), sys.executable, "-m", "cli.health",
                               "--config", str(config)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{party}: {done.stderr}"


def test_certificates_carry_the_extra_host_names(federation) -> None:
    fed, _ = federation
    cert = x509.load_pem_x509_certificate((fed.pki_dir / "nodes" / "source-tax" / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "tax.example" in names.get_values_for_type(x509.DNSName)


def test_health_fails_with_the_reason_once_a_node_is_down(tmp_path: Path) -> None:
    from cli.health import check
    from federation.pki import CertificateAuthority, Identity

    CertificateAuthority.create(tmp_path / "pki").issue(Identity("source", "tax"))
    node = tmp_path / "pki" / "nodes" / "source-tax"
    config = tmp_path / "node.toml"
    config.write_text(f'[node]\nstate_dir = "{tmp_path / "state"}"\n[tls]\nca = "{node / "ca.pem"}"\n'
                      f'cert = "{node / "cert.pem"}"\nkey = "{node / "key.pem"}"\n', encoding="utf-8")
    assert "not serving yet" in (check(config, timeout=2) or "")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "address").write_text("127.0.0.1:1", encoding="utf-8")  # a stale file, nothing there
    assert "UNAVAILABLE" in (check(config, timeout=2) or "")
