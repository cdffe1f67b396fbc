"""Node configuration: `[node] advertise` (and XYD_ADVERTISE), and the address a server announces."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.config import ConfigError, load_node_config
from federation.pki import CertificateAuthority, Identity
from federation.server import NodeServer

BASE = """
[node]
listen = "0.0.0.0:7000"
state_dir = "state"
{extra}
[tls]
ca = "pki/ca.pem"
cert = "pki/cert.pem"
key = "pki/key.pem"
"""


def _config(tmp_path: Path, extra: str = "", env: dict[str, str] | None = None):
    path = tmp_path / "node.toml"
    path.write_text(BASE.format(extra=extra), encoding="utf-8")
    return load_node_config(path, env=env or {})


def test_advertise_is_read_from_the_file(tmp_path: Path) -> None:
    assert _config(tmp_path, 'advertise = "tax.example:7000"').advertise == "tax.example:7000"
    assert _config(tmp_path).advertise is None


def test_the_environment_overrides_advertise(tmp_path: Path) -> None:
    config = _config(tmp_path, 'advertise = "tax.example:7000"', env={"XYD_ADVERTISE": "10.0.0.5"})
    assert config.advertise == "10.0.0.5"


@pytest.mark.parametrize("value", ["0.0.0.0:7000", "[::]:7000", ":7000", "tax.example:http", "tax:70000",
                                   "fe80::1:7000", "[fe80::1]x"])
def test_an_address_peers_cannot_dial_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"\[node\] advertise"):
        _config(tmp_path, f'advertise = "{value}"')


@pytest.mark.parametrize("value", ["tax.example", "tax.example:7000", "10.1.2.3:7443", "[fe80::1]:7000", "[::1]"])
def test_host_or_host_port_is_accepted(tmp_path: Path, value: str) -> None:
    assert _config(tmp_path, f'advertise = "{value}"').advertise == value


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca")).issue(Identity("source", "tax"))


def test_a_wildcard_server_announces_its_advertised_address(tls) -> None:
    with NodeServer(tls, bind="0.0.0.0:0", advertise="tax.example") as server:
        assert server.address == f"127.0.0.1:{server.port}"  # what this machine dials
        assert server.advertised_address == f"tax.example:{server.port}"  # the bound port when none is given
        assert server.listens_on_all_interfaces
    with NodeServer(tls, bind="0.0.0.0:0", advertise="[fe80::1]:7443") as server:
        assert server.advertised_address == "[fe80::1]:7443"
    with NodeServer(tls, bind="127.0.0.1:0") as server:
        assert server.advertised_address == server.address
        assert not server.listens_on_all_interfaces
