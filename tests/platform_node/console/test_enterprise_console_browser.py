"""The enterprise's console end to end in a real headless Chromium (WebCrypto Ed25519), against a real world:
the platform node (consent registry + HTTP API + console) and source/tax are OS processes on mTLS gRPC; the
bank is this process's `BankHttpClient` over HTTP.

The enterprise logs in by signing in the browser with its key file, approves a bank's request by signing the
terms there, and the bank's verification then succeeds; pausing makes it fail, resuming lets it through, a
revocation makes it fail for good; the uses appear under the consent with receipts the log's key verifies. It
declares information under the credit commitment and sees it in its public report. Every request the browser
sent, the platform's database and its logs are searched for the private key: it is in none of them. It rotates
to a key WebCrypto makes in the browser, signs in and signs with it, and the key file's key is refused. Every
view is saved under build/screenshots/ (`ent-*.png`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cli.bank_http import BankHttpClient
from cli.bank_keys import BankKeys
from cli.enterprise_client import EnterpriseClient, Profile, load_key
from federation.pki import Identity
from sandbox.consent_world import ConsentWorld
from sandbox.http_parties import BankParty, EnterpriseParty, bank_party, enterprise_party
from tests.browser_support import Visit, chromium

TAX = "source/tax"
ITEMS = ["source/tax:revenue_12m_cny"]
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@dataclass
class World:
    consent: ConsentWorld
    bank: BankParty
    enterprise: EnterpriseParty
    key_file: Path
    value: float
    folder: Path
    bodies: list[bytes] = field(default_factory=list)

    def bank_client(self) -> BankHttpClient:
        name = self.bank.identity.split("/")[1]
        return BankHttpClient(self.consent.api_url, self.bank.api_key,
                              keys=BankKeys.load_or_create(self.bank.profile.parent / "keys"),
                              tls=self.consent.tls(Identity("bank", name)))

    def secrets(self) -> list[bytes]:
        """Every spelling of the enterprise's private key a leak could take (its raw seed, hex, base64, PKCS#8)."""
        key = load_key(self.key_file)
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"="),
                base64.b64encode(der)]


def _enterprise(world: ConsentWorld) -> tuple[str, float]:
    frame = pd.read_csv(world.table("tax"), dtype={"credit_code": str})
    row = frame[frame["revenue_12m_cny"] > 0].iloc[0]
    return str(row["credit_code"]), float(row["revenue_12m_cny"])


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("enterprise-console")
    with ConsentWorld(root, sources=("tax",), with_api=True) as consent:
        bank = bank_party(root / "bank", name="icbc-sz", api_url=consent.api_url,
                          platform_config=consent.platform_config, pki_dir=consent.pki_dir)
        code, value = _enterprise(consent)
        enterprise = enterprise_party(root / "enterprise", api_url=consent.api_url, ca_dir=consent.enterprise_ca_dir,
                                      credit_code=code, name="Demo Textiles Co., Ltd.")
        profile = Profile.load(enterprise.profile)
        with EnterpriseClient(profile, key=load_key(profile.key_file)) as client:  # sign-up is not under test
            client.sign_up(certificate_pem=enterprise.certificate.read_bytes(),
                           certificate_key_pem=enterprise.certificate_key.read_bytes(), signatory="Li Lei")
        yield World(consent, bank, enterprise, profile.key_file, value, root)
    assert all(p.poll() is not None for p in consent.processes.values()), "a node process outlived the world"


@pytest.fixture
def visit(browser, world: World) -> Iterator[Visit]:
    opened = Visit(browser, world.consent.api_url)
    opened.context.on("request", lambda request: world.bodies.append(request.post_data_buffer or b""))
    yield opened
    opened.close()


def _log_in(visit: Visit, world: World, *, shoot: str | None = None) -> None:
    page = visit.page
    visit.go("/console/enterprise/requests")
    page.wait_for_url(re.compile(r"/console/enterprise/login\?next="))
    page.get_by_label("统一社会信用代码").fill(world.enterprise.credit_code)
    page.get_by_label("密钥文件").set_input_files(str(world.key_file))
    if shoot:
        visit.shoot(shoot)
    page.get_by_role("button", name="签名并登录").click()
    page.wait_for_url(re.compile(r"/console/enterprise/requests"))


def _status(visit: Visit) -> str:
    return visit.page.get_by_test_id("consent-status").inner_text()


def test_an_enterprise_approves_in_the_browser_and_the_bank_verifies_until_it_revokes(visit: Visit,
                                                                                       world: World) -> None:
    page = visit.page
    with world.bank_client() as bank:
        bank.register_keys()
        asked = bank.request_consent(world.enterprise.credit_code, ITEMS, purpose="PRE_LOAN_REVIEW",
                                     loan_application_ref="LA-2026-0777", max_uses=5, valid_days=30)
        declined = bank.request_consent(world.enterprise.credit_code, ITEMS, purpose="LOAN_APPROVAL",
                                        loan_application_ref="LA-2026-0778", max_uses=1)

        _log_in(visit, world, shoot="ent-01-login")
        rows = page.locator("table.data tbody tr")
        listed = page.locator("table.data tbody").inner_text()
        assert rows.count() == 2 and "LA-2026-0777" in listed and "LA-2026-0778" in listed
        assert "icbc-sz" in listed and "revenue_12m_cny" in listed and "待处理" in listed
        visit.shoot("ent-02-requests")

        # Decline the second: a signed instruction, made in the browser.
        visit.go(f"/console/enterprise/requests/{declined['request_id']}")
        page.get_by_role("button", name="拒绝").click()
        page.wait_for_selector("p.ok[role=status]")
        assert page.get_by_test_id("request-status").inner_text() == "已拒绝"
        assert bank.consent_request(declined["request_id"])["status"] == "DECLINED"

        # Approve the first: the terms are shown, signed here, and the consent is active.
        visit.go(f"/console/enterprise/requests/{asked['request_id']}")
        assert "已载入密钥" in page.locator("#ent-key-state").inner_text()
        facts = page.locator("dl.facts").inner_text()
        assert "LA-2026-0777" in facts and "贷前调查" in facts and "5" in facts
        visit.shoot("ent-03-request-to-approve")
        page.get_by_role("button", name="批准并签名").click()
        page.wait_for_url(re.compile(r"/console/enterprise/consents/auth-[0-9a-f]{64}\?done=approved"))
        assert _status(visit) == "生效中"
        consent_page = urlsplit(page.url).path

        low = int(world.value // 2)
        check = [(TAX, f"revenue_12m_cny >= {low}")]
        [answered] = bank.verify(asked["request_id"], check)
        assert answered.holds is True, answered

        # Pause: refused; resume: answered; revoke: refused for good.
        page.get_by_role("button", name="暂停").click()
        page.wait_for_url(re.compile(r"done=pause"))
        assert _status(visit) == "已暂停"
        assert bank.verify(asked["request_id"], check)[0].refusal == "PAUSED"
        page.get_by_role("button", name="恢复").click()
        page.wait_for_url(re.compile(r"done=resume"))
        assert bank.verify(asked["request_id"], check)[0].holds is True
        page.get_by_role("button", name="撤销").click()
        page.wait_for_url(re.compile(r"done=revoke"))
        assert _status(visit) == "已撤销"
        [refused] = bank.verify(asked["request_id"], check)
        assert refused.refusal == "REVOKED" and refused.answer is None

    # The uses under the consent, each with a receipt once a checkpoint covers it (every second here).
    for _ in range(40):
        visit.go(consent_page)
        if page.locator("[data-testid=use-row] .warn").count() == 0:
            break
        page.wait_for_timeout(500)
    uses = page.locator("[data-testid=use-row]")
    kinds = [uses.nth(i).locator("td").nth(1).inner_text() for i in range(uses.count())]
    assert kinds == ["请求被拒绝", "核验已答复", "请求被拒绝", "核验已答复"]  # newest first
    assert "REVOKED" in uses.first.inner_text() and "PAUSED" in uses.nth(2).inner_text()
    assert page.locator("[data-testid=use-row] .ok").count() == 4
    with page.expect_download() as download:
        uses.first.get_by_role("link", name="下载收据").click()
    receipt = Path(download.value.path()).read_text()
    assert '"proof"' in receipt and '"checkpoint"' in receipt
    visit.shoot("ent-04-consent-revoked-with-uses")
    visit.go("/console/enterprise/consents")
    assert page.get_by_test_id("consent-status").first.inner_text() == "已撤销"
    visit.shoot("ent-05-consents")

    # Self-declaration under the credit commitment, then the public report shows it, flagged.
    visit.go("/console/enterprise/declaration")
    page.get_by_label("融资需求（元）").fill("3000000")
    page.get_by_label("融资用途").select_option("EQUIPMENT")
    page.get_by_label("年营业收入").select_option("10M_50M")
    page.get_by_label("从业人数").fill("86")
    page.get_by_label("主要产品").fill("棉纺面料\n功能性纱线")
    page.get_by_label("证书 1 名称").fill("高新技术企业")
    page.get_by_label("发证机关", exact=True).first.fill("深圳市科技创新委员会")
    page.get_by_label("公开范围").select_option("PUBLIC")
    page.get_by_label("本企业作出上述承诺，并用企业密钥签署。").check()
    visit.shoot("ent-06-declaration-form")
    page.get_by_role("button", name="签署承诺并提交").click()
    page.wait_for_url(re.compile(r"done=declared"))
    assert page.get_by_test_id("declaration-status").first.inner_text() == "当前"
    visit.shoot("ent-07-declaration-recorded")
    visit.go("/console/enterprise/report")
    declared = page.get_by_test_id("declared").inner_text()
    assert "3,000,000.00" in declared and "设备购置" in declared and "高新技术企业" in declared
    visit.shoot("ent-08-public-report")
    visit.go("/console/enterprise/report?lang=en")
    assert page.locator("h1").inner_text().startswith("This enterprise's public report")
    visit.shoot("ent-09-public-report-en")
    visit.go("/console/enterprise/requests?lang=zh")

    # Log-out forgets the key the browser kept.
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/console/login"))
    kept = page.evaluate("""() => new Promise(resolve => { const open = indexedDB.open("xyd-enterprise", 1);
        open.onupgradeneeded = () => open.result.createObjectStore("keys");
        open.onsuccess = () => { const get = open.result.transaction("keys").objectStore("keys").get("current");
        get.onsuccess = () => resolve(get.result === undefined ? "none" : "kept"); }; })""")
    assert kept == "none"

    # The private key reached the platform in no request, no table and no log line.
    assert any(b"signature=" in body for body in world.bodies)  # the bodies were recorded
    leaks = [s for s in [*world.secrets(), b"PRIVATE KEY"] for body in world.bodies if s in body]
    assert not leaks  # no PEM of any kind either
    # The platform's state (its database and journal, its own PEM keys) and every node's log.
    stores = [p for p in world.consent.registry_db.parent.rglob("*") if p.is_file()]
    stores += sorted((world.folder / "logs").glob("*.log"))
    assert world.consent.registry_db in stores
    assert all(not any(s in path.read_bytes() for s in world.secrets()) for path in stores)


def test_a_key_not_bound_and_another_role_are_refused(visit: Visit, world: World) -> None:
    page = visit.page
    stranger = world.folder / "stranger.key"
    stranger.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                                    NoEncryption()))
    visit.go("/console/enterprise/login")
    page.get_by_label("统一社会信用代码").fill(world.enterprise.credit_code)
    page.get_by_label("密钥文件").set_input_files(str(stranger))
    page.get_by_role("button", name="签名并登录").click()
    page.wait_for_selector("p.error[role=alert]")
    assert "签名无效" in page.locator("p.error[role=alert]").first.inner_text()
    assert page.url.endswith("/console/enterprise/login")
    visit.shoot("ent-10-login-refused")

    # A bank's session is not an enterprise's (and the reverse): the API's role refusal.
    visit.log_in(world.bank.api_key)
    assert visit.go("/console/enterprise/consents").status == 403
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/console/login"))
    _log_in(visit, world)
    assert visit.go("/console/bank/score").status == 403
    # A change posted without the session's CSRF token, or unsigned, changes nothing.
    answer = visit.context.request.post(world.consent.api_url + "/console/enterprise/declaration",
                                        form={"payload": "e30=", "signature": "AA=="})
    assert answer.status == 403


def test_rotating_to_a_key_made_in_the_browser(visit: Visit, world: World) -> None:
    """WebCrypto's generateKey: the new key exists only in this browser (not exportable); the key file's key
    closes, and the enterprise signs in and signs changes with the browser's key."""
    page = visit.page
    _log_in(visit, world)
    visit.go("/console/enterprise/key")
    assert page.get_by_test_id("key-row").count() == 1
    visit.shoot("ent-11-signing-key")
    page.get_by_role("button", name="生成新密钥并轮换").click()
    page.wait_for_url(re.compile(r"/console/enterprise/login\?done=rotated"))
    assert "密钥已轮换" in page.locator("p.ok[role=status]").inner_text()
    visit.shoot("ent-12-login-after-rotation")

    page.get_by_label("统一社会信用代码").fill(world.enterprise.credit_code)
    page.get_by_role("button", name=re.compile("用本浏览器保存的密钥")).click()
    page.wait_for_url(re.compile(r"/console/enterprise/requests"))
    visit.go("/console/enterprise/key")
    assert page.get_by_test_id("key-row").count() == 2 and "本次登录所用" in page.get_by_test_id("key-row").first.inner_text()
    assert "已载入密钥" in page.locator("#ent-key-state").inner_text()

    # A change signed with the browser's key: withdrawing the declaration.
    visit.go("/console/enterprise/declaration")
    page.get_by_role("button", name="撤回").click()
    page.wait_for_url(re.compile(r"done=withdrawn"))
    assert page.get_by_test_id("declaration-status").first.inner_text() == "已撤回"
    visit.shoot("ent-13-declaration-withdrawn")

    # The key file's key is closed: signing in with it is refused.
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/console/login"))
    visit.go("/console/enterprise/login")
    page.get_by_label("统一社会信用代码").fill(world.enterprise.credit_code)
    page.get_by_label("密钥文件").set_input_files(str(world.key_file))
    page.get_by_role("button", name="签名并登录").click()
    page.wait_for_selector("p.error[role=alert]")
    assert page.url.endswith("/console/enterprise/login")
