"""Start a whole federation: PKI, configs, the coordinator, the platform and source nodes.

Every role runs as its own OS process (started through the `xyd` command, never imported), talks mTLS
gRPC, and is stopped when the federation closes, whatever happened. Where the processes run and how they
reach each other is a `NodePlacement`: all on loopback by default (`Loopback`), or each in its own network
namespace behind a slow link (`sandbox.network.SlowNetwork`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cli.operator_client import CoordinatorClient, OperatorConfig
from cli.source_admin_client import AdminClient
from consent.canonical_json import canonical_json
from consent.enterprise import LocalEnterpriseCA
from consent.governance import ApprovalTerms, create_approval_key, load_approval_private_key
from federation.pki import CertificateAuthority, Identity
from sandbox.governance import ApprovalPlan, catalogue_items, catalogue_toml, request_terms
from sandbox.processes import ProcessFailed, ProcessGroup, Supervised

COORDINATOR = Identity("coordinator", "main")
PLATFORM = Identity("platform", "main")
OPERATOR = Identity("admin", "operator")


@dataclass(frozen=True)
class NodeData:
    """A node's table and its declared schema."""

    schema: Path
    table: Path


class NodePlacement(Protocol):
    """Where each node process listens and runs, and the addresses the others dial it at."""

    def listen(self, party: str) -> str:
        """The node's `[node] listen`."""

    def advertise(self, party: str) -> str | None:
        """The node's `[node] advertise` (None: its bound address)."""

    def reach(self, party: str, bound: str) -> str:
        """The address others (nodes, the operator) dial, given the one the node wrote to its state folder."""

    def api_bind(self, party: str) -> tuple[str, int]:
        """The platform API's host and port."""

    def reach_api(self, party: str, bound_url: str) -> str:
        """The API's URL for clients, given the one the platform wrote."""

    def command_prefix(self, party: str) -> list[str]:
        """A command that runs the node's process in place (empty: run it directly)."""

    def admin_listen(self, party: str) -> str:
        """A source node's `[governance] admin_listen` (its administrator's endpoint)."""

    def reach_admin(self, party: str, bound_url: str) -> str:
        """The admin endpoint's URL for the unit's administrator, given the one the node wrote."""


class Loopback:
    """Every node on 127.0.0.1 with a port the kernel picks; everyone dials the bound address."""

    def listen(self, party: str) -> str:
        return "127.0.0.1:0"

    def advertise(self, party: str) -> str | None:
        return None

    def reach(self, party: str, bound: str) -> str:
        return bound

    def api_bind(self, party: str) -> tuple[str, int]:
        return "127.0.0.1", 0

    def reach_api(self, party: str, bound_url: str) -> str:
        return bound_url

    def command_prefix(self, party: str) -> list[str]:
        return []

    def admin_listen(self, party: str) -> str:
        return "127.0.0.1:0"

    def reach_admin(self, party: str, bound_url: str) -> str:
        return bound_url


@dataclass
class LocalFederation:
    """A running federation; use as a context manager so every process stops on exit."""

    state_dir: Path
    platform_data: NodeData
    sources: dict[str, NodeData]
    ready_timeout: float = 60.0
    node_policy: dict[str, bool] = field(default_factory=dict)  # every node's [policy] (test-size keys, ...)
    with_api: bool = True
    # Extra TOML tables of the platform's API (e.g. `[api.models]`, `[api.availability]`), written with its config
    # (a `restart` of the platform rewrites it, so a test may change them between runs).
    api_tables: str = ""
    api_database_url: str | None = None  # the platform API's database; SQLite in its state folder if None
    placement: NodePlacement = field(default_factory=Loopback)
    cert_hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # extra DNS names per party
    coordinator_jobs: dict[str, float] = field(default_factory=dict)  # the coordinator's [jobs] settings
    metrics: bool = True  # every node serves /metrics, /healthz, /readyz on a loopback port of its own
    # Data governance: each unit's catalogue conditions by column (PUBLIC columns unconditional, others
    # conditional by default), and the approvals the sandbox's operator files and each unit's admin signs.
    catalogue_conditions: dict[str, dict[str, str]] = field(default_factory=dict)
    approvals: tuple[ApprovalPlan, ...] = (ApprovalPlan(),)
    # Private scoring (docs/protocols/private-scoring.md): the platform's [api.privacy] and every source's
    # [scoring] (written again on a restart, so a benchmark can switch modes between runs).
    api_privacy: dict[str, object] = field(default_factory=dict)
    source_scoring: dict[str, object] = field(default_factory=dict)
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
    @property
    def enterprise_ca_dir(self) -> Path:
        """The local enterprise-certificate CA the platform's identity provider trusts (demo and tests)."""
        return self.state_dir / "enterprise-ca"

    def _credentials(self, identity: Identity) -> tuple[Path, Path]:
        folder = self.pki_dir / "nodes" / f"{identity.role}-{identity.name}"
        return folder / "cert.pem", folder / "key.pem"

    def _write_config(self, identity: Identity, data: NodeData | None, listen: str | None = None) -> Path:
        cert, key = self._credentials(identity)
        node_dir = self.state_dir / "nodes" / f"{identity.role}-{identity.name}"
        node_dir.mkdir(parents=True, exist_ok=True)
        advertise = self.placement.advertise(identity.party)
        lines = [
            "[node]", f'listen = "{listen or self.placement.listen(identity.party)}"',
            f'state_dir = "{node_dir / "state"}"', *([f'advertise = "{advertise}"'] if advertise else []), "",
            "[tls]", f'ca = "{self.pki_dir / "ca.pem"}"', f'cert = "{cert}"', f'key = "{key}"',
            f'crl = "{self.pki_dir / "crl.pem"}"', "",
        ]
        if identity != COORDINATOR:
            lines += ["[coordinator]", f'address = "{self.coordinator_address}"', ""]
        elif self.coordinator_jobs:
            lines += ["[jobs]", *(f"{k} = {v}" for k, v in self.coordinator_jobs.items()), ""]
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
            api_host, api_port = self.placement.api_bind(identity.party)
            if not (self.enterprise_ca_dir / "ca.pem").exists():  # the enterprises' identity provider (local CA)
                LocalEnterpriseCA.create(self.enterprise_ca_dir)
            lines += ["[api]", f'database_url = "{database_url}"',
                      f'secrets_file = "{state / "master.key"}"', f'log_key_file = "{state / "log.key"}"',
                      f'host = "{api_host}"', f"port = {api_port}", "allow_insecure_webhooks_for_tests = true",
                      "delivery_interval_s = 1", "",
                      "[api.enterprise]", 'identity_provider = "local-certificate"', "",
                      "[api.enterprise.provider_options]",
                      f'certificate_ca = "{self.enterprise_ca_dir / "ca.pem"}"', "",
                      # A demo-sized threshold (the default is 40 points): the demo's monitored loan moves by
                      # tens of points between its two models.
                      "[api.deterioration]", "score_drop = 10", "", self.api_tables, "",
                      *(["[api.privacy]", *(f"{k} = {json.dumps(v)}" for k, v in self.api_privacy.items()), ""]
                        if self.api_privacy else [])]
        if identity.role == "source" and self.platform_address:
            lines += ["[verification]", f'platform = "{self.platform_address}"', 'period = "2025"', ""]
        if identity == PLATFORM:
            lines += ["[consent]", "checkpoint_interval_s = 2", "",
                      "[governance]", "usage_report_interval_s = 1", ""]
        if identity.role == "source":
            lines += ["[governance]", f'approval_key = "{self.approval_key(identity.name).with_suffix(".pub")}"',
                      f'admin_listen = "{self.placement.admin_listen(identity.party)}"', "",
                      *catalogue_toml(self.catalogue(identity.name)),
                      *(["[scoring]", *(f"{k} = {json.dumps(v)}" for k, v in self.source_scoring.items()), ""]
                        if self.source_scoring else [])]
        if self.metrics:
            lines += ["[metrics]", 'listen = "127.0.0.1:0"', ""]
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
            ca.issue(identity, hosts=self.cert_hosts.get(identity.party, ()))
        (self.state_dir / "admins").mkdir(parents=True, exist_ok=True)
        for name in self.sources:  # each unit's administrator keeps its own approval key
            create_approval_key(self.approval_key(name), self.approval_key(name).with_suffix(".pub"))
        where = self.placement
        config = self._write_config(COORDINATOR, None)
        coordinator = self.group.start(COORDINATOR.party, ["coordinator", "serve", "--config", str(config)],
                                       prefix=where.command_prefix(COORDINATOR.party))
        address_file = config.parent / "state" / "address"
        self.coordinator_address = where.reach(
            COORDINATOR.party, self.group.wait_for_file(coordinator, address_file, self.ready_timeout))
        platform_config = self._write_config(PLATFORM, self.platform_data)
        platform = self.group.start(PLATFORM.party, ["platform", "serve", "--config", str(platform_config)],
                                    prefix=where.command_prefix(PLATFORM.party))
        # Source nodes verify against the platform's consent registry, so they need its address first.
        self.platform_address = where.reach(PLATFORM.party, self.group.wait_for_file(
            platform, platform_config.parent / "state" / "address", self.ready_timeout))
        for identity in self.source_identities():
            self.group.start(identity.party, ["source", "serve", "--party-hint", identity.party, "--config",
                                              str(self._write_config(identity, self.sources[identity.name]))],
                             prefix=where.command_prefix(identity.party))
        self.wait_registered([PLATFORM.party, *(i.party for i in self.source_identities())])
        for plan in self.approvals:
            self.provision(plan)
        if self.with_api:
            self.api_url = where.reach_api(PLATFORM.party, self.group.wait_for_file(
                platform, platform_config.parent / "state" / "api_url", self.ready_timeout))

    def member(self, party: str) -> Supervised:
        """The newest process started for `party` (a restart starts a new one)."""
        return next(m for m in reversed(self.group.members) if m.name == party)

    def kill(self, party: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (SIGKILL: a crash) to `party`'s process group and wait for it to end."""
        member = self.member(party)
        try:
            os.killpg(member.process.pid, sig)
        except ProcessLookupError:
            pass
        member.process.wait(timeout=30)

    def restart(self, party: str) -> None:
        """Start `party` again after `kill`, with the same config, state folder and port (peers and the
        coordinator's address file stay valid); returns once it serves (and, for a node, answers the
        coordinator again)."""
        identity = Identity.parse(party)
        if self.member(party).process.poll() is None:
            raise ProcessFailed(f"{party} is still running: kill it first")
        role = "coordinator" if identity == COORDINATOR else identity.role
        config = self.state_dir / "nodes" / f"{identity.role}-{identity.name}" / "node.toml"
        state = config.parent / "state"
        address = self.coordinator_address if identity == COORDINATOR else (state / "address").read_text().strip()
        data = None if identity == COORDINATOR else (
            self.platform_data if identity == PLATFORM else self.sources[identity.name])
        self._write_config(identity, data, listen=address)
        for ready in ("address", "api_url"):
            (state / ready).unlink(missing_ok=True)
        args = [role, "serve", "--config", str(config)]
        if identity.role == "source":
            args[2:2] = ["--party-hint", party]
        member = self.group.start(party, args)
        self.group.wait_for_file(member, state / "address", self.ready_timeout)
        if identity == PLATFORM and self.with_api:
            self.api_url = self.group.wait_for_file(member, state / "api_url", self.ready_timeout)
        if identity != COORDINATOR:
            self.wait_answering([party])

    def wait_answering(self, parties: Sequence[str]) -> None:
        """Wait until the coordinator sees every one of `parties` answer its health check."""
        deadline = time.monotonic() + self.ready_timeout
        with self.client() as client:
            while True:
                answering = {n.party for n in client.nodes(probe=True) if n.answering}
                if set(parties) <= answering:
                    return
                if time.monotonic() > deadline:
                    raise ProcessFailed(f"not answering after {self.ready_timeout:.0f}s: "
                                        f"{sorted(set(parties) - answering)}")
                time.sleep(0.2)

    def admin(self, name: str) -> AdminClient:
        """Source unit `name`'s administrator, on its node's admin endpoint, with its approval key."""
        url = (self.node_state("source", name) / "admin_url").read_text(encoding="utf-8").strip()
        url = self.placement.reach_admin(f"source/{name}", url)
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

    def metrics_url(self, role: str, name: str) -> str:
        """`http://host:port` of one node's metrics listener (written once the node serves)."""
        return "http://" + (self.node_state(role, name) / "metrics_address").read_text(encoding="utf-8").strip()

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
                self._check_alive()
                registered = {n.party for n in client.nodes()}
                if set(parties) <= registered:
                    return
                if time.monotonic() > deadline:
                    missing = sorted(set(parties) - registered)
                    raise ProcessFailed(f"nodes not registered after {self.ready_timeout:.0f}s: {missing}")
                time.sleep(0.1)

    def _check_alive(self) -> None:
        """Fail fast if the newest process of any party exited (a killed one that was restarted is fine)."""
        for name in dict.fromkeys(m.name for m in self.group.members):
            member = self.member(name)
            code = member.process.poll()
            if code is not None:
                raise ProcessFailed(f"{name} exited with code {code}; last log lines:\n{member.log_tail()}")

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
