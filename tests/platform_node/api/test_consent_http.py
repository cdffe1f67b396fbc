"""Consent over real HTTP (the app on a uvicorn server, a clock the test moves, SQLite): a bank asks, the
enterprise (through its own client, signing on its side) sees the exact terms, approves, pauses, resumes,
revokes; every change is logged and pushed to the bank's webhook; and each way of getting an approval or an
instruction wrong is refused with its code."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.enterprise_client import EnterpriseApiError, EnterpriseClient, Profile
from consent.audit import AuditEvent, EventKind
from consent.authorisation import FieldCatalogue, FieldSpec, Sensitivity, Terms, ValueType, sign_terms
from consent.enterprise import LocalEnterpriseCA
from consent.enterprise.instructions import Action, sign_instruction
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.consent_registry.registry import publish_catalogue
from platform_node.enterprises.settings import EnterpriseSettings
from tests.platform_node.receiver import WebhookReceiver
from tests.platform_node.world import BANK_A, BANK_B, T0, Platform, build_platform, enterprises

CODE, OTHER = enterprises(5)[3], enterprises(5)[4]
ITEMS = ["source/tax:revenue_12m_cny", "source/tax:tax_paid_2025"]


@dataclass
class World:
    platform: Platform
    url: str
    http: httpx.Client
    ca: LocalEnterpriseCA
    hook: WebhookReceiver
    folder: Path

    def enterprise(self, code: str = CODE, key: Ed25519PrivateKey | None = None) -> EnterpriseClient:
        profile = Profile(self.folder / f"{code}.toml", self.url, code, self.folder / f"{code}.key")
        return EnterpriseClient(profile, key=key or Ed25519PrivateKey.generate(), clock=self.platform.clock)

    def sign_up(self, client: EnterpriseClient) -> None:
        issued = self.ca.issue(client.profile.credit_code, f"Enterprise {client.profile.credit_code[-4:]}",
                               now=T0 - timedelta(hours=1))
        client.sign_up(certificate_pem=issued.certificate_pem, certificate_key_pem=issued.key_pem,
                       signatory="Li Lei")

    def ask(self, bank: str = BANK_A, code: str = CODE, **overrides) -> dict:
        body = {"credit_code": code, "data_items": ITEMS, "purpose": "PRE_LOAN_REVIEW",
                "loan_application_ref": "LA-2026-0042", "valid_days": 30, "max_uses": 3, **overrides}
        answer = self.http.post("/v1/consent-requests", json=body, headers=self.platform.headers(bank))
        assert answer.status_code == 201, answer.text
        return answer.json()

    def deliver(self) -> list[dict]:
        """Run the webhook dispatcher now; the consent events the bank received so far."""
        self.platform.services.dispatcher.deliver_due(now=self.platform.clock())
        return [json.loads(body) for headers, body in self.hook.delivered() if headers["XYD-Event"] == "consent.changed"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ca = LocalEnterpriseCA.create(tmp_path / "ca", now=T0 - timedelta(days=1))
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'platform.db'}", allow_insecure_webhooks_for_tests=True,
                           webhook_timeout_s=2.0,
                           enterprise=EnterpriseSettings(identity_provider="local-certificate",
                                                         provider_options={"certificate_ca": str(tmp_path / "ca" / "ca.pem")}))
    platform = build_platform(tmp_path, settings=settings)
    services = platform.services
    with services.engine.begin() as conn:  # what source/tax announced to the registry
        publish_catalogue(conn, services.audit, "source/tax", FieldCatalogue([
            FieldSpec("revenue_12m_cny", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2025"),
            FieldSpec("tax_paid_2025", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2025"),
            FieldSpec("taxpayer_grade", "tax", Sensitivity.PUBLIC, ValueType.STRING, None),
        ]), now=platform.clock())
    server = ApiServer(create_app(services))
    url = server.start()
    with WebhookReceiver() as hook, httpx.Client(base_url=url, timeout=10.0) as http:
        assert http.put("/v1/webhook", json={"url": hook.url}, headers=platform.headers(BANK_A)).status_code == 200
        try:
            yield World(platform, url, http, ca, hook, tmp_path)
        finally:
            server.stop()
            services.close()


def test_a_bank_asks_and_the_enterprise_approves_pauses_resumes_and_revokes(world: World) -> None:
    catalogue = world.http.get("/v1/consent-catalogue", headers=world.platform.headers(BANK_A)).json()["items"]
    assert {i["item"] for i in catalogue} >= set(ITEMS) and all("value" not in i for i in catalogue)
    asked = world.ask()
    assert asked["status"] == "PENDING" and asked["categories"] == ["tax:TRADE_SECRET"]
    assert asked["data_range"] == ["2025"] and asked["authorisation_id"] is None
    enterprise = world.enterprise()
    world.sign_up(enterprise)
    world.platform.clock.advance(30)
    (pending,) = enterprise.requests("PENDING")
    terms = Terms.from_json(pending["terms"])
    assert (terms.grantee, terms.data_items, terms.max_uses) == (BANK_A, tuple(ITEMS), 3)
    assert terms.authorised_by.name == "Li Lei" and terms.subject.credit_code == CODE

    approved = enterprise.approve(asked["request_id"], terms=pending["terms"])
    assert approved["status"] == "APPROVED" and approved["consent_status"] == "ACTIVE"
    consent = approved["authorisation_id"]
    assert consent == terms.id
    seen_by_bank = world.http.get(f"/v1/consent-requests/{asked['request_id']}",
                                  headers=world.platform.headers(BANK_A)).json()
    assert seen_by_bank["consent_status"] == "ACTIVE" and seen_by_bank["artefact"]["payload"]
    assert world.http.get(f"/v1/consent-requests/{asked['request_id']}",
                          headers=world.platform.headers(BANK_B)).status_code == 404  # another bank's

    for action, status in ((Action.PAUSE, "PAUSED"), (Action.RESUME, "ACTIVE"), (Action.REVOKE, "REVOKED")):
        world.platform.clock.advance(5)
        assert enterprise.change(consent, action)["status"] == status
    with pytest.raises(EnterpriseApiError) as illegal:
        enterprise.change(consent, Action.RESUME)
    assert (illegal.value.status, illegal.value.code) == (409, "ILLEGAL_TRANSITION")

    events = world.deliver()
    assert [(e["consent_status"], e["reason"]) for e in events] == [
        ("ACTIVE", "ENTERPRISE_APPROVED"), ("PAUSED", "ENTERPRISE_PAUSED"), ("ACTIVE", "ENTERPRISE_RESUMED"),
        ("REVOKED", "ENTERPRISE_REVOKED")]
    assert all(e["request_id"] == asked["request_id"] and e["authorisation_id"] == consent for e in events)

    # Every change is a leaf, and the enterprise's status changes carry the digest of its signed instruction.
    audit = world.platform.services.audit
    changes = [AuditEvent.from_leaf(leaf.leaf) for leaf in audit.find(authorisation_id=consent)]
    assert [e.kind for e in changes][:2] == [EventKind.AUTHORISATION_CREATED, EventKind.CONSENT_REQUEST_CHANGED]
    statuses = [e for e in changes if e.kind is EventKind.AUTHORISATION_STATUS_CHANGED]
    assert [e.status_to for e in statuses] == ["ACTIVE", "PAUSED", "ACTIVE", "REVOKED"]
    assert all("instruction" in e.digest_map for e in statuses[1:]) and CODE.encode() not in b"".join(
        leaf.leaf for leaf in audit.leaves())


def test_declined_and_unanswered_requests_are_pushed_too(world: World) -> None:
    enterprise = world.enterprise()
    world.sign_up(enterprise)
    declined, ignored = world.ask(), world.ask(loan_application_ref="LA-2026-0043")
    assert enterprise.decline(declined["request_id"])["status"] == "DECLINED"
    world.platform.clock.advance(15 * 86400)
    expired, _ = world.platform.services.consent_desk.expire_due(now=world.platform.clock())
    assert expired == [ignored["request_id"]]
    with pytest.raises(EnterpriseApiError) as late:
        enterprise.approve(ignored["request_id"])
    assert late.value.code == "REQUEST_NOT_PENDING"
    assert [(e["request_id"], e["request_status"]) for e in world.deliver()] == [
        (declined["request_id"], "DECLINED"), (ignored["request_id"], "EXPIRED")]


def test_each_wrong_approval_or_instruction_is_refused_with_its_code(world: World) -> None:
    old_key = Ed25519PrivateKey.generate()
    enterprise, other = world.enterprise(key=old_key), world.enterprise(OTHER)
    world.sign_up(enterprise)
    world.sign_up(other)
    request = world.ask()["request_id"]
    shown = Terms.from_json(enterprise.request(request)["terms"])
    now = world.platform.clock()

    def approve(artefact, client: EnterpriseClient = enterprise) -> EnterpriseApiError:
        with pytest.raises(EnterpriseApiError) as refused:
            client.call("POST", f"/v1/enterprise/consent-requests/{request}/approval",
                        body={"artefact": artefact.to_json()})
        return refused.value

    # Terms changed in any field (here one more use): not the request's terms.
    more = dataclasses.replace(shown, max_uses=shown.max_uses + 1)
    assert approve(sign_terms(more, old_key, signed_at=now)).code == "TAMPERED_TERMS"
    # Another enterprise approving (its own key, the request's terms), or terms naming it: not the subject.
    assert approve(sign_terms(shown, other.key, signed_at=now), client=other).code == "NOT_THE_SUBJECT"
    # A key that is not the enterprise's; an old signature; a signature made with a rotated-out key.
    assert approve(sign_terms(shown, Ed25519PrivateKey.generate(), signed_at=now)).code == "KEY_NOT_VALID"
    assert approve(sign_terms(shown, old_key, signed_at=now - timedelta(minutes=10))).code == "STALE_SIGNATURE"
    world.platform.clock.advance(60)
    new_key = Ed25519PrivateKey.generate()
    enterprise.rotate(new_key, signatory="Li Lei")
    enterprise.key = new_key
    world.platform.clock.advance(1)
    rotated_out = sign_terms(shown, old_key, signed_at=world.platform.clock())
    assert approve(rotated_out).code == "KEY_NOT_VALID"
    assert enterprise.request(request)["status"] == "PENDING"  # nothing of the above changed anything

    world.platform.clock.advance(10)
    consent = enterprise.approve(request)["authorisation_id"]
    instruction = sign_instruction(Action.PAUSE, consent, credit_code=CODE, key=new_key, now=world.platform.clock())
    path = f"/v1/enterprise/consents/{consent}/pause"
    assert enterprise.call("POST", path, body={"instruction": instruction.to_json()})["status"] == "PAUSED"
    with pytest.raises(EnterpriseApiError) as replayed:  # the same signed instruction again (a new request)
        enterprise.call("POST", f"/v1/enterprise/consents/{consent}/resume", body={"instruction": instruction.to_json()})
    assert replayed.value.code == "WRONG_INSTRUCTION"
    resume = sign_instruction(Action.RESUME, consent, credit_code=CODE, key=new_key, now=world.platform.clock())
    enterprise.call("POST", f"/v1/enterprise/consents/{consent}/resume", body={"instruction": resume.to_json()})
    with pytest.raises(EnterpriseApiError) as again:
        enterprise.call("POST", f"/v1/enterprise/consents/{consent}/resume", body={"instruction": resume.to_json()})
    assert again.value.code == "REPLAYED_INSTRUCTION"
    with pytest.raises(EnterpriseApiError) as foreign:  # the other enterprise pausing this consent
        other.change(consent, Action.PAUSE)
    assert (foreign.value.status, foreign.value.code) == (403, "NOT_THE_SUBJECT")
    unknown = world.http.post("/v1/consent-requests", headers=world.platform.headers(BANK_A), json={
        "credit_code": CODE, "data_items": ["source/tax:salary_of_ceo"], "purpose": "PRE_LOAN_REVIEW",
        "loan_application_ref": "LA-1"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "INVALID_CONSENT_REQUEST"
    assert "salary_of_ceo" not in unknown.text


def test_self_declared_information_is_apart_flagged_versioned_and_read_only_under_consent(world: World) -> None:
    from consent.enterprise.declarations import Declaration, Visibility, sign_declaration

    enterprise = world.enterprise()
    world.sign_up(enterprise)
    bank = world.platform.headers(BANK_A)

    def report() -> dict:
        answer = world.http.get(f"/v1/reports/{CODE}", params={"purpose": "PRE_LOAN_REVIEW"}, headers=bank)
        assert answer.status_code == 200, answer.text
        return answer.json()

    before = report()
    assert before["self_declared"] is None and before["audit"]["leaf_index"] >= 0  # every read is a leaf
    declared = Declaration(financing_need_cny=__import__("decimal").Decimal("5000000"), revenue_band="10M_50M",
                           employees=85, main_products=("cotton fabric",))
    first = enterprise.declare(declared, visibility=Visibility.PUBLIC, signatory="Li Lei")
    assert (first["version"], first["status"]) == (1, "CURRENT")
    shown = report()
    assert shown["sections"] == before["sections"]  # never mixed with the source units' data
    flagged = shown["self_declared"]
    assert flagged["self_declared"] is True and flagged["declared"]["financing_need_cny"] == "5000000"
    assert flagged["commitment"]["signatory"] == "Li Lei" and "信用" in flagged["commitment"]["text"]

    # A correction is a new version; made visible under consent only, it leaves the public report.
    corrected = enterprise.declare(Declaration(employees=90), visibility=Visibility.CONSENT, signatory="Li Lei")
    assert corrected["version"] == 2 and report()["self_declared"] is None
    # Refused: a statement with another commitment text; a version that is not the next one.
    now = world.platform.clock()
    for signed, code in (
        (sign_declaration(declared, credit_code=CODE, key=enterprise.key, signatory="Li Lei",
                          signatory_role="LEGAL_REPRESENTATIVE", version=3, supersedes=corrected["declaration_id"],
                          visibility=Visibility.PUBLIC, now=now, commitment=(1, "nothing promised")),
         "COMMITMENT_MISMATCH"),
        (sign_declaration(declared, credit_code=CODE, key=enterprise.key, signatory="Li Lei",
                          signatory_role="LEGAL_REPRESENTATIVE", version=2, supersedes=first["declaration_id"],
                          visibility=Visibility.PUBLIC, now=now), "VERSION_CONFLICT"),
    ):
        with pytest.raises(EnterpriseApiError) as refused:
            enterprise.call("POST", "/v1/enterprise/declarations", body={"declaration": signed.to_json()})
        assert refused.value.code == code

    # A bank reads what is not public only under a consent naming the item, and each read is a use.
    item = "platform/main:self_declared"
    assert item in {i["item"] for i in world.http.get("/v1/consent-catalogue", headers=bank).json()["items"]}
    without = world.ask(data_items=ITEMS[:1])
    with_item = world.ask(data_items=[ITEMS[0], item], max_uses=2, loan_application_ref="LA-2026-0099")
    no_item = enterprise.approve(without["request_id"])["authorisation_id"]
    consent = enterprise.approve(with_item["request_id"])["authorisation_id"]

    def read(consent_id: str, headers=bank, purpose: str = "PRE_LOAN_REVIEW") -> httpx.Response:
        return world.http.get(f"/v1/declarations/{CODE}", params={"consent_id": consent_id, "purpose": purpose},
                              headers=headers)

    assert read(no_item).json()["code"] == "SCOPE_EXCEEDED"
    assert read(consent, headers=world.platform.headers(BANK_B)).json()["code"] == "NOT_AUTHORISED"
    assert read(consent, purpose="LOAN_APPROVAL").json()["code"] == "WRONG_PURPOSE"
    got = read(consent).json()
    assert got["declaration"]["version"] == 2 and got["declaration"]["self_declared"] is True
    enterprise.change(consent, Action.PAUSE)
    assert read(consent).json()["code"] == "PAUSED"
    enterprise.change(consent, Action.RESUME)
    assert read(consent).status_code == 200
    assert read(consent).json()["code"] == "BUDGET_EXHAUSTED"
    uses = enterprise.uses(consent)["items"]
    assert [u["kind"] for u in uses].count("declaration_read") == 2  # the enterprise sees each read

    withdrawn = enterprise.withdraw_declaration(corrected["declaration_id"])
    assert (withdrawn["version"], withdrawn["status"], withdrawn["declaration"]) == (3, "WITHDRAWN", None)
    assert [d["status"] for d in enterprise.declarations()] == ["SUPERSEDED", "SUPERSEDED", "WITHDRAWN"]
    audit = world.platform.services.audit
    recorded = [AuditEvent.from_leaf(leaf.leaf) for leaf in audit.find(kinds=[EventKind.DECLARATION_RECORDED])]
    assert [e.status_to for e in recorded] == ["SUBMITTED", "CORRECTED", "WITHDRAWN"]


class CityList:
    """The coordinator's city-wide list as the platform reads it (`CatalogueService`), one version."""

    def version(self, version: int = 0) -> dict:
        def item(name: str, condition: str) -> dict:
            return {"name": name, "category": "TAX", "description": name, "unit": "CNY", "update_frequency": "monthly",
                    "sensitivity": "TRADE_SECRET", "condition": condition}

        return {"version": 3, "latest": 3, "sha256": "0" * 64, "cause": "", "created_at": 0.0, "sources": [
            {"source": "source/tax", "items": [item("revenue_12m_cny", "conditional"), item("taxpayer_grade", "not_shared"),
                                               item("vat_paid_12m_cny", "unconditional")]},
            {"source": "source/court", "items": [item("enforcement_cases", "unconditional")]}]}

    def file_expansion(self, **_: object) -> dict:
        raise AssertionError("not used here")

    def expansions(self, institution: str) -> list:
        return []


def test_a_bank_sees_one_catalogue_with_each_items_uses(world: World) -> None:
    """`GET /v1/catalogue` joins the coordinator's list (computation) with the fields the source nodes announced
    for verification; `GET /v1/consent-catalogue` still lists the verification fields alone."""
    world.platform.services.catalogue = CityList()
    found = world.http.get("/v1/catalogue", headers=world.platform.headers(BANK_A)).json()
    sources = {s["source"]: s for s in found["sources"]}
    tax = {i["name"]: i for i in sources["source/tax"]["items"]}
    assert tax["revenue_12m_cny"]["uses"] == ["computation", "verification"]
    assert tax["revenue_12m_cny"]["verification"]["item"] == "source/tax:revenue_12m_cny"
    assert tax["taxpayer_grade"]["uses"] == []  # announced, but not shared: the node refuses every use
    assert tax["taxpayer_grade"]["verification"]["item"] == "source/tax:taxpayer_grade"
    assert tax["vat_paid_12m_cny"]["uses"] == ["computation"]
    assert [f["item"] for f in sources["source/tax"]["verification_only"]] == ["source/tax:tax_paid_2025"]
    assert sources["source/court"]["verification_only"] == []
    assert [f["item"] for f in sources["platform/main"]["verification_only"]] == ["platform/main:self_declared"]
    assert sources["platform/main"]["items"] == []
    every = {f["item"] for s in found["sources"] for f in s["verification_only"]} | {
        i["verification"]["item"] for s in found["sources"] for i in s["items"] if i["verification"]}
    alone = world.http.get("/v1/consent-catalogue", headers=world.platform.headers(BANK_A)).json()["items"]
    assert every == {i["item"] for i in alone}  # the old path lists the same verification fields
