"""A verification world of real processes on loopback: PKI, synthetic tables, the platform (consent registry
and relay) and source nodes, each its own OS process talking mTLS gRPC. For the benchmark and the tests.

Layout mirrors the local launcher: <root>/pki, <root>/data, <root>/nodes/<role>-<name>/{node.toml,state},
<root>/logs. Every process is stopped (SIGTERM, then SIGKILL) when the world closes, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.bank_http import BankHttpClient
from cli.bank_keys import BankKeys
from cli.compliance.officer import WitnessEndpoint
from cli.compliance.witness_client import ask_witnesses
from cli.registry_admin import RegistryAdmin
from cli.source_admin_client import AdminClient
from consent.audit import LogTrust, WitnessAnswer
from consent.authorisation import (
    AuthorisedBy,
    DataCategory,
    IdentityCheck,
    Mode,
    Purpose,
    Sensitivity,
    SignatoryRole,
    SignedTerms,
    Subject,
    Terms,
    sign_terms,
)
from consent.governance import create_approval_key, load_approval_private_key
from errors import XydError
from federation.pki import CertificateAuthority, Identity, NodeTls, node_directory
from sandbox.governance import ApprovalPlan, catalogue_items, catalogue_toml, request_terms
from sandbox.synthdata import generate

REPO = Path(__file__).resolve().parent.parent
PLATFORM = Identity("platform", "main")
OPERATOR = Identity("admin", "operator")
OFFICER = Identity("admin", "compliance")


class WorldFailed(XydError):
    """A process of the world exited early or never became ready; the message carries its log tail."""


@dataclass
class ConsentWorld:
    """Use as a context manager; `sources` are synthetic unit names (tax, social_insurance, ...)."""

    root: Path
    sources: tuple[str, ...] = ("tax",)
    enterprises: int = 150
    seed: int = 5
    checkpoint_interval_s: float = 1.0
    checks_per_field: int = 8
    period: str = "2025"
    ready_timeout: float = 40.0
    # The platform's bank/enterprise HTTP API (over the registry's database and log), with a local enterprise
    # CA as its identity provider; webhooks to loopback allowed (tests), delivered every half second.
    with_api: bool = True
    platform_address: str = field(init=False, default="")
    api_url: str = field(init=False, default="")
    _processes: dict[str, subprocess.Popen] = field(init=False, default_factory=dict)
    _api_keys: dict[str, str] = field(init=False, default_factory=dict)

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def state_of(self, identity: Identity) -> Path:
        return self.root / "nodes" / f"{identity.role}-{identity.name}" / "state"

    @property
    def registry_db(self) -> Path:
        """The platform's one database (the API's when it serves one; the registry's own otherwise)."""
        if self.with_api:
            return self.state_of(PLATFORM) / "platform.db"
        return self.state_of(PLATFORM) / "consent" / "registry.db"

    @property
    def enterprise_ca_dir(self) -> Path:
        return self.root / "enterprise-ca"

    @property
    def platform_config(self) -> Path:
        return self.root / "nodes" / f"{PLATFORM.role}-{PLATFORM.name}" / "node.toml"

    def source_db(self, name: str) -> Path:
        return self.state_of(Identity("source", name)) / "verification" / "node.db"

    def table(self, name: str) -> Path:
        return self.data_dir / f"{name}.csv"

    def tls(self, identity: Identity) -> NodeTls:
        """Credentials of `identity`, issued on first use."""
        if not (node_directory(self.pki_dir, identity) / "cert.pem").exists():
            CertificateAuthority.load(self.pki_dir).issue(identity)
        return NodeTls.load_issued(self.pki_dir, identity)

    def _config(self, identity: Identity, extra: list[str]) -> Path:
        folder = node_directory(self.pki_dir, identity)
        node_dir = self.root / "nodes" / f"{identity.role}-{identity.name}"
        node_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{node_dir / "state"}"', 'log_level = "INFO"', "",
            "[tls]", f'ca = "{folder / "ca.pem"}"', f'cert = "{folder / "cert.pem"}"', f'key = "{folder / "key.pem"}"',
            f'crl = "{self.pki_dir / "crl.pem"}"', "", *extra,
        ]
        path = node_dir / "node.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _start(self, name: str, role: str, config: Path) -> None:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name.replace('/', '-')}.log").open("ab") as log_file:
            self._processes[name] = subprocess.Popen(
                [sys.executable, "-m", "sandbox.consent_node", role, "--config", str(config)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            )

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.root / "logs" / f"{name.replace('/', '-')}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    def _check_alive(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise WorldFailed(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def start(self) -> None:
        """Create PKI and data, start the platform then every source node; return once all announced."""
        ca = CertificateAuthority.create(self.pki_dir)
        for identity in (PLATFORM, OPERATOR, *(Identity("source", s) for s in self.sources)):
            ca.issue(identity)
        generate(self.enterprises, self.seed, self.data_dir)
        platform_extra = ["[consent]", f"checkpoint_interval_s = {self.checkpoint_interval_s}", ""]
        if self.with_api:
            from consent.enterprise import LocalEnterpriseCA

            LocalEnterpriseCA.create(self.enterprise_ca_dir)
            state = self.state_of(PLATFORM)
            platform_extra += [
                "[api]", f'database_url = "sqlite:///{state / "platform.db"}"',
                f'secrets_file = "{state / "master.key"}"', "port = 0", "allow_insecure_webhooks_for_tests = true",
                "delivery_interval_s = 0.5", "",
                "[api.enterprise]", 'identity_provider = "local-certificate"', "",
                "[api.enterprise.provider_options]", f'certificate_ca = "{self.enterprise_ca_dir / "ca.pem"}"', ""]
        self._start(PLATFORM.party, "platform", self._config(PLATFORM, platform_extra))
        address_file = self.state_of(PLATFORM) / "address"
        deadline = time.monotonic() + self.ready_timeout
        while not address_file.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise WorldFailed(f"platform not ready:\n{self.log_tail(PLATFORM.party)}")
            time.sleep(0.05)
        self.platform_address = address_file.read_text().strip()
        if self.with_api:
            api_file = self.state_of(PLATFORM) / "api_url"
            while not api_file.exists():
                self._check_alive()
                if time.monotonic() > deadline:
                    raise WorldFailed(f"platform API not ready:\n{self.log_tail(PLATFORM.party)}")
                time.sleep(0.05)
            self.api_url = api_file.read_text().strip()
        for name in self.sources:
            identity = Identity("source", name)
            key = self.approval_key(name)
            key.parent.mkdir(parents=True, exist_ok=True)
            create_approval_key(key, key.with_suffix(".pub"))
            self._start(identity.party, "source", self._config(identity, [
                "[data]", f'schema = "{self.data_dir / f"{name}.toml"}"', f'table = "{self.table(name)}"', "",
                "[verification]", f'platform = "{self.platform_address}"', f'period = "{self.period}"',
                f"checks_per_field = {self.checks_per_field}", "announce_interval_s = 30", "",
                "[governance]", f'approval_key = "{key.with_suffix(".pub")}"', "",
                *catalogue_toml(catalogue_items(self.data_dir / f"{name}.toml"))]))
        for name in self.sources:
            self._approve_verification(name, deadline)
        expected = {f"source/{s}" for s in self.sources}
        with self.admin() as admin:
            while not expected <= set(admin.witnesses()):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise WorldFailed(f"sources not announced: {sorted(expected - set(admin.witnesses()))}")
                time.sleep(0.1)

    def approval_key(self, name: str) -> Path:
        """Source unit `name`'s approval private key (its administrator's)."""
        return self.root / "admins" / f"{name}.key"

    def _approve_verification(self, name: str, deadline: float) -> None:
        """The unit's administrator files and signs, on its own node, the approval to answer verifications."""
        admin_url = self.state_of(Identity("source", name)) / "admin_url"
        while not admin_url.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise WorldFailed(f"source/{name} admin endpoint not ready:\n{self.log_tail(f'source/{name}')}")
            time.sleep(0.05)
        plan = ApprovalPlan(project="verification", purpose="VERIFICATION_SERVICE",
                            description="answer banks' verification requests under enterprises' authorisations",
                            algorithms={"verification": 0}, online=False)
        terms = request_terms(f"source/{name}", plan, catalogue=catalogue_items(self.data_dir / f"{name}.toml"),
                              counterparties=(), requested_by=f"source/{name}")
        with AdminClient(admin_url.read_text().strip(), load_approval_private_key(self.approval_key(name))) as admin:
            filed = admin.file(terms)
            admin.approve(filed["approval_id"])

    def stop(self, grace: float = 5.0) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self._processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def __enter__(self) -> ConsentWorld:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return dict(self._processes)

    # -- clients -----------------------------------------------------------------------------------------

    def admin(self) -> RegistryAdmin:
        return RegistryAdmin(self.tls(OPERATOR), self.platform_address)

    def bank(self, name: str = "icbc-sz", *, keys: BankKeys | None = None,
             rate_per_s: float | None = None) -> BankHttpClient:
        """A bank's HTTP client (onboarded on the API on first use, with `rate_per_s` if given; its certificate
        issued by the CA)."""
        from sandbox.http_parties import onboard

        if not self.with_api:
            raise WorldFailed("banks use the HTTP API: start the world with_api")
        identity = Identity("bank", name)
        if identity.party not in self._api_keys:
            self._api_keys[identity.party] = onboard(self.platform_config, identity.party, "bank",
                                                     rate_per_s=rate_per_s)
        return BankHttpClient(self.api_url, self._api_keys[identity.party], keys=keys or BankKeys.generate(),
                              tls=self.tls(identity))

    # -- the compliance officer ----------------------------------------------------------------------------

    def witness_addresses(self) -> dict[str, str]:
        """Each source node's party -> the address its server listens on (its witness included)."""
        return {f"source/{s}": (self.state_of(Identity("source", s)) / "address").read_text().strip()
                for s in self.sources}

    def ask_witnesses(self, trust: LogTrust) -> list[WitnessAnswer]:
        """Every witness's latest cosigned checkpoint, asked with the officer's admin certificate."""
        addresses = self.witness_addresses()
        endpoints = [WitnessEndpoint(w, addresses[w.name]) for w in trust.witnesses]
        return ask_witnesses(self.tls(OFFICER), endpoints, trust.log.name)

    def officer_config(self, path: Path, trust: LogTrust, *, state: Path | None = None,
                       addresses: dict[str, str] | None = None, quorum: int | None = None) -> Path:
        """Write an officer.toml trusting `trust`'s keys, asking the witnesses at their addresses (or
        `addresses`), with the officer's certificate; return its path."""
        folder = node_directory(self.pki_dir, OFFICER)
        self.tls(OFFICER)
        addresses = {**self.witness_addresses(), **(addresses or {})}
        lines = ["[log]", f'vkey = "{trust.log.vkey()}"', f'state = "{state or path.parent / "audit-state.json"}"']
        if quorum is not None:
            lines.append(f"quorum = {quorum}")
        lines += ["", "[tls]", f'ca = "{folder / "ca.pem"}"', f'cert = "{folder / "cert.pem"}"',
                  f'key = "{folder / "key.pem"}"', f'crl = "{self.pki_dir / "crl.pem"}"', ""]
        for witness in trust.witnesses:
            lines += ["[[witness]]", f'vkey = "{witness.vkey()}"', f'address = "{addresses[witness.name]}"', ""]
        path.write_text("\n".join(lines), encoding="utf-8")
        return path


def utc_now() -> datetime:
    return datetime.now(UTC)


def demo_terms(credit_code: str, *, grantee: str, providers: tuple[str, ...], categories: tuple[str, ...],
               now: datetime, mode: Mode = Mode.VERIFY, max_uses: int = 20, period: str = "2025",
               purpose: Purpose = Purpose.PRE_LOAN_REVIEW, loan_ref: str = "LA-2026-0001") -> Terms:
    """Terms an enterprise might sign for a pre-loan review: valid from an hour ago for 30 days."""
    return Terms(
        subject=Subject(credit_code, "Demo Enterprise Co., Ltd."),
        authorised_by=AuthorisedBy("Legal Representative", SignatoryRole.LEGAL_REPRESENTATIVE,
                                   IdentityCheck.CA_CERTIFICATE),
        grantee=grantee, providers=providers,
        categories=tuple(DataCategory(c, Sensitivity.TRADE_SECRET) for c in categories),
        mode=mode, purpose=purpose, loan_application_ref=loan_ref,
        created_at=now - timedelta(minutes=5), not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30),
        max_uses=max_uses, data_range=(period,), data_life_days=90, feedback_deadline_days=30,
    )


def enterprise_signs(admin: RegistryAdmin, terms: Terms, key: Ed25519PrivateKey, *, now: datetime) -> SignedTerms:
    """The enterprise signs the terms with its bound key; the portal submits them and, identity checked,
    activates them."""
    artefact = sign_terms(terms, key, signed_at=now - timedelta(seconds=5))
    admin.submit(artefact, actor="admin/portal", activate=True)
    return artefact

