"""Credentials of a loopback Flower deployment: a private CA (`federation.pki`), the SuperLink's TLS
certificate, and one EC key pair per bank for SuperNode authentication (OpenSSH format, as `flwr supernode
register` and `flower-supernode --auth-supernode-private-key` read them).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation.pki import CertificateAuthority, Identity, node_directory, write_file

# The SuperLink runs at the platform, as the banks' aggregator.
SUPERLINK = Identity("platform", "superlink")


@dataclass(frozen=True)
class DeploymentCredentials:
    """Paths of the files written by `create`."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    node_keys: dict[str, tuple[Path, Path]]  # bank -> (private key, public key)


def node_key_pair(directory: Path, bank: str) -> tuple[Path, Path]:
    """A P-384 key pair for SuperNode authentication (Flower accepts NIST curves; P-384 is its example)."""
    key = ec.generate_private_key(ec.SECP384R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    write_file(directory / f"{bank}.key", private, private=True)
    write_file(directory / f"{bank}.pub", public)
    return directory / f"{bank}.key", directory / f"{bank}.pub"


def create(directory: Path, banks: list[str], *, days: int = 2, now: dt.datetime | None = None) -> DeploymentCredentials:
    """A short-lived CA (the federation's own CA type) with the SuperLink's certificate, plus the banks' keys.

    The SuperLink's certificate names `superlink.platform.xyd`, `localhost` and the loopback addresses, which
    is what Flower's clients check on a loopback deployment."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca = CertificateAuthority.create(directory / "ca", days=days, now=now, common_name="xyd bank federation CA")
    ca.issue(SUPERLINK, days=days, now=now)
    issued = node_directory(ca.directory, SUPERLINK)
    nodes = directory / "nodes"
    nodes.mkdir(exist_ok=True)
    return DeploymentCredentials(
        ca_cert=ca.directory / "ca.pem", server_cert=issued / "cert.pem", server_key=issued / "key.pem",
        node_keys={bank: node_key_pair(nodes, bank) for bank in banks},
    )
