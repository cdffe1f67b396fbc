"""Start a whole federation on loopback: PKI, configs, the coordinator, the platform and source nodes.

Every role runs as its own OS process (started through the `xyd` command, never imported), talks mTLS
gRPC, and is stopped when the federation closes, whatever happened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli.operator_client import CoordinatorClient, OperatorConfig
from consent.enterprise import LocalEnterpriseCA
from federation.pki import CertificateAuthority, Identity
from sandbox.processes import ProcessFailed, ProcessGroup

COORDINATOR = Identity("coordinator", "main")
PLATFORM = Identity("platform", "main")
OPERATOR = Identity("admin", "operator")


@dataclass(frozen=True)
class NodeData:
    """A node's table and its declared schema."""

    schema: Path
    table: Path


@dataclass
class LocalFederation:
    """A running federation; use as a context manager so every process stops on exit."""

    state_dir: Path
    platform_data: NodeData
    sources: dict[str, NodeData]
    ready_timeout: float = 60.0
    node_policy: dict[str, bool] = field(default_factory=dict)  # every node's [policy] (test-size keys, ...)
    with_api: bool = True
    api_database_url: str | None = None  # the platform API's database; SQLite in its state folder if None
    group: ProcessGroup = field(init=False)
    coordinator_address: str = field(init=False, default="")
    api_url: str = field(init=False, default="")
    platform_address: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.group = ProcessGroup(self.state_dir / "logs")

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def enterprise_ca_dir(self) -> Path:
        """The local enterprise-certificate CA the platform's identity provider trusts (demo and tests)."""
        return self.state_dir / "enterprise-ca"

    def _credentials(self, identity: Identity) -> tuple[Path, Path]:
        folder = self.pki_dir / "nodes" / f"{identity.role}-{identity.name}"
        return folder / "cert.pem", folder / "key.pem"

    def _write_config(self, identity: Identity, data: NodeData | None) -> Path:
        cert, key = self._credentials(identity)
        node_dir = self.state_dir / "nodes" / f"{identity.role}-{identity.name}"
        node_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{node_dir / "state"}"', "",
            "[tls]", f'ca = "{self.pki_dir / "ca.pem"}"', f'cert = "{cert}"', f'key = "{key}"',
            f'crl = "{self.pki_dir / "crl.pem"}"', "",
        ]
        if identity != COORDINATOR:
            lines += ["[coordinator]", f'address = "{self.coordinator_address}"', ""]
        if data is not None:
            lines += ["[data]", f'schema = "{data.schema}"', f'table = "{data.table}"', ""]
        if identity == PLATFORM and self.with_api:
            state = node_dir / "state"
            state.mkdir(parents=True, exist_ok=True)
            log_key = state / "log.key"  # the audit log's checkpoint-signing key (Ed25519 seed)
            if not log_key.exists():
                log_key.write_bytes(os.urandom(32))
                log_key.chmod(0o600)
            database_url = self.api_database_url or f"sqlite:///{state / 'platform-api.db'}"
            if not (self.enterprise_ca_dir / "ca.pem").exists():  # the enterprises' identity provider (local CA)
                LocalEnterpriseCA.create(self.enterprise_ca_dir)
            lines += ["[api]", f'database_url = "{database_url}"',
                      f'secrets_file = "{state / "master.key"}"', f'log_key_file = "{state / "log.key"}"',
                      "port = 0", "allow_insecure_webhooks_for_tests = true", "delivery_interval_s = 1", "",
                      "[api.enterprise]", 'identity_provider = "local-certificate"', "",
                      "[api.enterprise.provider_options]",
                      f'certificate_ca = "{self.enterprise_ca_dir / "ca.pem"}"', "",
                      # A demo-sized threshold (the default is 40 points): the demo's monitored loan moves by
                      # tens of points between its two models.
                      "[api.deterioration]", "score_drop = 10", ""]
        if identity.role == "source" and self.platform_address:
            lines += ["[verification]", f'platform = "{self.platform_address}"', 'period = "2025"', ""]
        if identity == PLATFORM:
            lines += ["[consent]", "checkpoint_interval_s = 2", ""]
        if self.node_policy:
            lines += ["[policy]", *(f"{k} = {str(v).lower()}" for k, v in self.node_policy.items()), ""]
        path = node_dir / "node.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def operator_config_path(self) -> Path:
        cert, key = self._credentials(OPERATOR)
        path = self.state_dir / "operator.toml"
        path.write_text("\n".join([
            "[coordinator]", f'address = "{self.coordinator_address}"', "",
            "[tls]", f'ca = "{self.pki_dir / "ca.pem"}"', f'cert = "{cert}"', f'key = "{key}"', "",
        ]), encoding="utf-8")
        return path

    def source_identities(self) -> list[Identity]:
        return [Identity("source", name) for name in self.sources]

    def start(self) -> None:
        """Create the PKI and start every process; returns once every node has registered."""
        ca = CertificateAuthority.create(self.pki_dir)
        for identity in (COORDINATOR, PLATFORM, OPERATOR, *self.source_identities()):
            ca.issue(identity)
        config = self._write_config(COORDINATOR, None)
        coordinator = self.group.start(COORDINATOR.party, ["coordinator", "serve", "--config", str(config)])
        address_file = config.parent / "state" / "address"
        self.coordinator_address = self.group.wait_for_file(coordinator, address_file, self.ready_timeout)
        platform_config = self._write_config(PLATFORM, self.platform_data)
        platform = self.group.start(PLATFORM.party, ["platform", "serve", "--config", str(platform_config)])
        # Source nodes verify against the platform's consent registry, so they need its address first.
        self.platform_address = self.group.wait_for_file(platform, platform_config.parent / "state" / "address",
                                                         self.ready_timeout)
        for identity in self.source_identities():
            self.group.start(identity.party, ["source", "serve", "--party-hint", identity.party, "--config",
                                              str(self._write_config(identity, self.sources[identity.name]))])
        self.wait_registered([PLATFORM.party, *(i.party for i in self.source_identities())])
        if self.with_api:
            self.api_url = self.group.wait_for_file(platform, platform_config.parent / "state" / "api_url",
                                                    self.ready_timeout)

    def node_state(self, role: str, name: str) -> Path:
        """The state folder of one node process."""
        return self.state_dir / "nodes" / f"{role}-{name}" / "state"

    @property
    def platform_db(self) -> Path:
        """The platform's one SQLite database (the API's, which the consent registry shares), when not
        PostgreSQL."""
        if self.api_database_url and not self.api_database_url.startswith("sqlite:///"):
            raise ValueError("the platform's database is not a SQLite file")
        if self.api_database_url:
            return Path(self.api_database_url.removeprefix("sqlite:///"))
        return self.node_state(PLATFORM.role, PLATFORM.name) / ("platform-api.db" if self.with_api else
                                                                 "consent/registry.db")

    @property
    def platform_config(self) -> Path:
        return self.state_dir / "nodes" / f"{PLATFORM.role}-{PLATFORM.name}" / "node.toml"

    def client(self) -> CoordinatorClient:
        return CoordinatorClient(OperatorConfig.load(self.operator_config_path()))

    def wait_registered(self, parties: Sequence[str]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        with self.client() as client:
            while True:
                self.group.check_alive()
                registered = {n.party for n in client.nodes()}
                if set(parties) <= registered:
                    return
                if time.monotonic() > deadline:
                    missing = sorted(set(parties) - registered)
                    raise ProcessFailed(f"nodes not registered after {self.ready_timeout:.0f}s: {missing}")
                time.sleep(0.1)

    def stop(self) -> None:
        self.group.stop_all()

    def __enter__(self) -> LocalFederation:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
