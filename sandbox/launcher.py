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
from consent.canonical_json import canonical_json
from consent.governance import ApprovalTerms, create_approval_key, load_approval_private_key
from federation.pki import CertificateAuthority, Identity
from sandbox.governance import ApprovalPlan, catalogue_items, catalogue_toml, request_terms
from sandbox.processes import ProcessFailed, ProcessGroup
from source_node.governance.admin_client import AdminClient

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
    source_policy: dict[str, bool] = field(default_factory=dict)
    with_api: bool = True
    api_database_url: str | None = None  # the platform API's database; SQLite in its state folder if None
    # Data governance: each unit's catalogue conditions by column (PUBLIC columns unconditional, others
    # conditional by default), and the approvals the sandbox's operator files and each unit's admin signs.
    catalogue_conditions: dict[str, dict[str, str]] = field(default_factory=dict)
    approvals: tuple[ApprovalPlan, ...] = (ApprovalPlan(),)
    group: ProcessGroup = field(init=False)
    coordinator_address: str = field(init=False, default="")
    api_url: str = field(init=False, default="")
    platform_address: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.group = ProcessGroup(self.state_dir / "logs")

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    def approval_key(self, name: str) -> Path:
        """Where the sandbox keeps source unit `name`'s approval private key (its administrator's)."""
        return self.state_dir / "admins" / f"{name}.key"

    def catalogue(self, name: str) -> list[dict[str, str]]:
        return catalogue_items(self.sources[name].schema, self.catalogue_conditions.get(name))

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
            lines += ["[api]", f'database_url = "{database_url}"',
                      f'secrets_file = "{state / "master.key"}"', f'log_key_file = "{state / "log.key"}"',
                      "port = 0", "allow_http_webhooks = true", "",
                      # A demo-sized threshold (the default is 40 points): the demo's monitored loan moves by
                      # tens of points between its two models.
                      "[api.deterioration]", "score_drop = 10", ""]
        if identity.role == "source" and self.platform_address:
            lines += ["[verification]", f'platform = "{self.platform_address}"', 'period = "2025"', ""]
        if identity == PLATFORM:
            lines += ["[consent]", "checkpoint_interval_s = 2", "",
                      "[governance]", "usage_report_interval_s = 1", ""]
        if identity.role == "source":
            lines += ["[governance]", f'approval_key = "{self.approval_key(identity.name).with_suffix(".pub")}"',
                      'admin_listen = "127.0.0.1:0"', "", *catalogue_toml(self.catalogue(identity.name))]
        if identity.role == "source" and self.source_policy:
            lines += ["[policy]", *(f"{k} = {str(v).lower()}" for k, v in self.source_policy.items()), ""]
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
        (self.state_dir / "admins").mkdir(parents=True, exist_ok=True)
        for name in self.sources:  # each unit's administrator keeps its own approval key
            create_approval_key(self.approval_key(name), self.approval_key(name).with_suffix(".pub"))
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
        for plan in self.approvals:
            self.provision(plan)
        if self.with_api:
            self.api_url = self.group.wait_for_file(platform, platform_config.parent / "state" / "api_url",
                                                    self.ready_timeout)

    def admin(self, name: str) -> AdminClient:
        """Source unit `name`'s administrator, on its node's admin endpoint, with its approval key."""
        url = (self.node_state("source", name) / "admin_url").read_text(encoding="utf-8").strip()
        return AdminClient(url, load_approval_private_key(self.approval_key(name)))

    def request_approval(self, name: str, plan: ApprovalPlan) -> str:
        """The operator files `plan` for unit `name` through the coordinator; returns the approval id."""
        parties = [i.party for i in self.source_identities()] + [COORDINATOR.party]
        terms = ApprovalTerms.from_json(request_terms(f"source/{name}", plan, catalogue=self.catalogue(name),
                                                      counterparties=parties, requested_by=OPERATOR.party))
        with self.client() as client:
            return client.file_approval(canonical_json(terms.to_json()).decode()).approval_id

    def provision(self, plan: ApprovalPlan, names: Sequence[str] | None = None) -> dict[str, str]:
        """File `plan` for every unit (or `names`) and have each unit's administrator approve it."""
        approved = {}
        for name in names or list(self.sources):
            approval_id = self.request_approval(name, plan)
            with self.admin(name) as admin:
                admin.sync()
                admin.approve(approval_id)
            approved[name] = approval_id
        return approved

    def node_state(self, role: str, name: str) -> Path:
        """The state folder of one node process."""
        return self.state_dir / "nodes" / f"{role}-{name}" / "state"

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
