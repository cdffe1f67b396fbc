"""A consent whose window ends is refused EXPIRED, and the bank is told, without waiting a day: the
platform's consent registry and HTTP API and source/tax's verification gate run as real servers (HTTP on
uvicorn, mutual-TLS gRPC between them) in this process, all on one clock the test moves. The bank and the
enterprise use their own clients over HTTP. (`test_enterprise_flow.py` runs the other refusals across OS
processes; there the clock cannot be moved.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.bank_http import BankHttpClient, parse_check
from cli.bank_keys import BankKeys
from cli.enterprise_client import EnterpriseClient, Profile
from consent.enterprise import LocalEnterpriseCA
from federation.config import load_node_config
from federation.node_process import load_tls
from federation.pki import CertificateAuthority, Identity, NodeTls, node_directory
from federation.server import NodeServer
from platform_node.api.embedded import start_embedded_api
from platform_node.consent_registry import attach, prepare
from platform_node.node import open_consent_registry
from sandbox.consent_node import NoModelScorer
from sandbox.http_parties import onboard
from sandbox.synthdata import generate
from source_node.verification import OFFICER_METHODS
from source_node.verification import attach as attach_verification
from tables.configured import load_configured_table
from tests.platform_node.receiver import WebhookReceiver

PLATFORM, TAX, BANK = Identity("platform", "main"), Identity("source", "tax"), Identity("bank", "icbc-sz")
pytestmark = pytest.mark.timeout(180)


class Clock:
    """Real time until the test moves it forward; shared by every server here."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class World:
    clock: Clock
    api_url: str
    root: Path
    code: str
    bank_key: str
    admin_key: str


def _config(root: Path, identity: Identity, extra: list[str]) -> Path:
    tls = node_directory(root / "pki", identity)
    folder = root / f"{identity.role}-{identity.name}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "node.toml"
    path.write_text("\n".join([
        "[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{folder / "state"}"', "",
        "[tls]", f'ca = "{tls / "ca.pem"}"', f'cert = "{tls / "cert.pem"}"', f'key = "{tls / "key.pem"}"',
        f'crl = "{root / "pki" / "crl.pem"}"', "", *extra]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("expiry")
    clock = Clock()
    ca = CertificateAuthority.create(root / "pki")
    for identity in (PLATFORM, TAX, BANK):
        ca.issue(identity)
    generate(60, 3, root / "data")
    LocalEnterpriseCA.create(root / "enterprise-ca")
    state = root / "platform-main" / "state"
    platform_config = load_node_config(_config(root, PLATFORM, [
        "[consent]", "checkpoint_interval_s = 3600", "quorum = 0", "",
        "[api]", f'database_url = "sqlite:///{state / "platform.db"}"', f'secrets_file = "{state / "master.key"}"',
        "port = 0", "run_ticker = false", "allow_insecure_webhooks_for_tests = true", "",
        "[api.enterprise]", 'identity_provider = "local-certificate"', "",
        "[api.enterprise.provider_options]", f'certificate_ca = "{root / "enterprise-ca" / "ca.pem"}"', ""]))
    tls = load_tls(platform_config)
    server = NodeServer(tls, bind="127.0.0.1:0", allowed_roles={"platform", "source", "admin"})
    consent = prepare(config=platform_config, tls=tls, registry=open_consent_registry(platform_config, tls),
                      clock=clock)
    stop_api = start_embedded_api(platform_config, scorer=NoModelScorer(), consent=consent)
    attach(server, config=platform_config, tls=tls, prepared=consent)
    server.start()
    source_config = load_node_config(_config(root, TAX, [
        "[data]", f'schema = "{root / "data" / "tax.toml"}"', f'table = "{root / "data" / "tax.csv"}"', "",
        "[verification]", f'platform = "{server.address}"', 'period = "2025"', "announce_interval_s = 3600", ""]))
    source_tls = load_tls(source_config)
    source = NodeServer(source_tls, bind="127.0.0.1:0", allowed_roles={"platform", "source", "coordinator"},
                        limited_roles={"admin": OFFICER_METHODS})
    node = attach_verification(source, config=source_config, table=load_configured_table(source_config),
                               tls=source_tls, clock=clock)
    source.start()
    try:
        assert node.connected.wait(30), "source/tax did not reach the registry"
        frame = pd.read_csv(root / "data" / "tax.csv", dtype={"credit_code": str})
        code = str(frame[frame["revenue_12m_cny"] > 0].iloc[0]["credit_code"])
        bank_key = onboard(platform_config.source, BANK.party, "bank")
        admin_key = onboard(platform_config.source, "platform/ops", "admin")
        yield World(clock, (state / "api_url").read_text().strip(), root, code, bank_key, admin_key)
    finally:
        node.close()
        source.stop(grace=1.0)
        stop_api()
        consent.close()
        server.stop(grace=1.0)
        assert not [t for t in threading.enumerate() if t.name == "xyd-registry-link"]


def test_a_consent_past_its_window_is_refused_expired_and_the_bank_is_told(world: World) -> None:
    issued = LocalEnterpriseCA.load(world.root / "enterprise-ca").issue(world.code, "Expiring Co.")
    profile = Profile(world.root / "ent.toml", world.api_url, world.code, world.root / "ent.key")
    bank_tls = NodeTls.load_issued(world.root / "pki", BANK)
    admin = {"Authorization": f"Bearer {world.admin_key}"}
    with EnterpriseClient(profile, key=Ed25519PrivateKey.generate(), clock=world.clock) as enterprise, \
            BankHttpClient(world.api_url, world.bank_key, keys=BankKeys.generate(), tls=bank_tls,
                           clock=world.clock) as bank, WebhookReceiver() as hook, \
            httpx.Client(base_url=world.api_url, timeout=10) as http:
        bank.call("PUT", "/v1/webhook", json={"url": hook.url})
        enterprise.sign_up(certificate_pem=issued.certificate_pem, certificate_key_pem=issued.key_pem,
                           signatory="Zhao Lei")
        bank.register_keys()
        asked = bank.request_consent(world.code, ["source/tax:revenue_12m_cny"], purpose="PRE_LOAN_REVIEW",
                                     loan_application_ref="LA-EXP-1", valid_days=1)
        world.clock.offset += timedelta(seconds=5)
        consent = enterprise.approve(asked["request_id"])["authorisation_id"]
        check = [parse_check("source/tax:revenue_12m_cny >= 1")]
        [answered] = bank.verify(asked["request_id"], check)
        assert answered.holds is True

        world.clock.offset += timedelta(days=1, minutes=1)  # the window has ended
        [expired] = bank.verify(asked["request_id"], check)
        assert expired.refusal == "EXPIRED" and expired.receipts  # refused at the node, and a leaf of the log
        # The expiry sweep (the consent-expiry job, run now) marks it, and the bank is told.
        swept = http.post("/v1/admin/consents/expire", headers=admin).json()
        assert swept == {"requests": [], "consents": [consent]}
        assert http.post("/v1/admin/webhooks/deliver", headers=admin).json()["delivered"] == 2
        events = [json.loads(b) for h, b in hook.delivered() if h["XYD-Event"] == "consent.changed"]
        assert [(e["consent_status"], e["reason"]) for e in events] == [
            ("ACTIVE", "ENTERPRISE_APPROVED"), ("EXPIRED", "WINDOW_ENDED")]
        assert bank.consent_request(asked["request_id"])["consent_status"] == "EXPIRED"
