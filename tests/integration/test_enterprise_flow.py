"""Enterprises in control, over real processes: the platform (consent registry + HTTP API) and source/tax are
OS processes talking mTLS gRPC; the bank (`xyd bank`) and the enterprise (`xyd enterprise`) are separate
processes talking HTTP. Then each refusal of an account-aggregator-style flow, from clients in this process
against the same running world, webhooks for each change, the one log checked end to end (and caught when a
row is rewritten, deleted or reordered), and no enterprise private key in any store of any node."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, update

from cli.bank_http import BankHttpClient, parse_check
from cli.bank_keys import BankKeys
from cli.compliance.checks import verify_chain
from cli.enterprise_client import EnterpriseApiError, EnterpriseClient, Profile, load_key
from consent.audit import AuditEvent, AuditLog, EventKind, LogTamperedError, open_engine
from consent.authorisation import Purpose, sign_terms
from consent.authorisation.terms import Terms
from consent.enterprise import sign_request
from consent.merkle import leaf_hash
from federation.pki import Identity
from sandbox.audit_attacks import restore, snapshot
from sandbox.consent_world import ConsentWorld, utc_now
from sandbox.http_parties import BankParty, EnterpriseParty, bank_party, enterprise_party, onboard, xyd
from tests.platform_node.receiver import WebhookReceiver

TAX = "source/tax"
ITEMS = ["source/tax:revenue_12m_cny", "source/tax:vat_paid_12m_cny"]
pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]


@dataclass
class Parties:
    world: ConsentWorld
    bank: BankParty
    other_bank: BankParty
    enterprise: EnterpriseParty
    value: float
    hook: WebhookReceiver
    folder: Path
    enterprises: list[EnterpriseParty] = dataclasses.field(default_factory=list)

    def bank_client(self, party: BankParty | None = None) -> BankHttpClient:
        party = party or self.bank
        name = party.identity.split("/")[1]
        return BankHttpClient(self.world.api_url, party.api_key, keys=BankKeys.load_or_create(party.profile.parent / "keys"),
                              tls=self.world.tls(Identity("bank", name)))

    def enterprise_client(self, party: EnterpriseParty | None = None) -> EnterpriseClient:
        party = party or self.enterprise
        profile = Profile.load(party.profile)
        return EnterpriseClient(profile, key=load_key(profile.key_file))


def _enterprise(world: ConsentWorld, index: int) -> tuple[str, float]:
    frame = pd.read_csv(world.table("tax"), dtype={"credit_code": str})
    row = frame[frame["revenue_12m_cny"] > 0].iloc[index]
    return str(row["credit_code"]), float(row["revenue_12m_cny"])


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parties]:
    root = tmp_path_factory.mktemp("enterprise-flow")
    with ConsentWorld(root, sources=("tax",), with_api=True) as world, WebhookReceiver() as hook:
        config = dict(api_url=world.api_url, platform_config=world.platform_config, pki_dir=world.pki_dir)
        bank = bank_party(root / "bank", name="icbc-sz", **config)
        other = bank_party(root / "other-bank", name="cmb-sz", **config)
        code, value = _enterprise(world, 0)
        enterprise = enterprise_party(root / "enterprise", api_url=world.api_url, ca_dir=world.enterprise_ca_dir,
                                      credit_code=code, name="Demo Textiles Co., Ltd.")
        with httpx.Client(base_url=world.api_url, timeout=10) as http:
            answer = http.put("/v1/webhook", json={"url": hook.url}, headers={"Authorization": f"Bearer {bank.api_key}"})
            assert answer.status_code == 200, answer.text
        yield Parties(world, bank, other, enterprise, value, hook, root, [enterprise])
    assert all(p.poll() is not None for p in world.processes.values()), "a node process outlived the world"


def _json(done) -> object:
    return json.loads(done.stdout)


def test_full_flow_through_the_bank_client_and_the_enterprise_cli(parties: Parties) -> None:
    bank, enterprise = parties.bank.profile, parties.enterprise
    identity = ["--certificate", str(enterprise.certificate), "--certificate-key", str(enterprise.certificate_key),
                "--signatory", "Li Lei"]
    xyd("enterprise", "signup", "--profile", str(enterprise.profile), *identity)
    xyd("bank", "register-keys", "--profile", str(bank))
    asked = _json(xyd("bank", "request-consent", "--profile", str(bank), "--credit-code", enterprise.credit_code,
                      *sum((["--item", i] for i in ITEMS), []), "--purpose", "PRE_LOAN_REVIEW",
                      "--loan-ref", "LA-2026-0001", "--max-uses", "5"))
    pending = _json(xyd("enterprise", "requests", "--profile", str(enterprise.profile), "--status", "PENDING"))
    assert [p["request_id"] for p in pending] == [asked["request_id"]]
    assert Terms.from_json(pending[0]["terms"]).data_items == tuple(ITEMS)
    approved = _json(xyd("enterprise", "approve", asked["request_id"], "--yes", "--profile", str(enterprise.profile)))
    assert approved["consent_status"] == "ACTIVE"

    low, high = int(parties.value // 2), int(parties.value * 2) + 1
    checks = ["--check", f"{TAX}:revenue_12m_cny >= {low}", "--check", f"{TAX}:revenue_12m_cny >= {high}"]
    answered = _json(xyd("bank", "verify", asked["request_id"], "--profile", str(bank), *checks))
    assert [a["result"] for a in answered] == [True, False] and all(a["leaves"] for a in answered)

    consent = approved["authorisation_id"]
    xyd("enterprise", "pause", consent, "--profile", str(enterprise.profile))
    paused = xyd("bank", "verify", asked["request_id"], "--profile", str(bank), *checks[:2], check=False)
    assert paused.returncode == 1 and _json(paused)[0]["refused"] == "PAUSED"
    xyd("enterprise", "revoke", consent, "--profile", str(enterprise.profile))
    revoked = xyd("bank", "verify", asked["request_id"], "--profile", str(bank), *checks[:2], check=False)
    assert _json(revoked)[0]["refused"] == "REVOKED"

    with parties.enterprise_client() as client:
        uses = client.uses(consent)["items"]
    assert [(u["kind"], u["reason_code"]) for u in uses] == [
        ("verification_answered", None), ("verification_answered", None), ("request_refused", "PAUSED"),
        ("request_refused", "REVOKED")]

    # The bank heard of every change through its webhook.
    deadline = time.monotonic() + 30
    while True:
        events = [json.loads(b) for h, b in parties.hook.delivered() if h["XYD-Event"] == "consent.changed"]
        if len(events) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(e["consent_status"], e["reason"]) for e in events] == [
        ("ACTIVE", "ENTERPRISE_APPROVED"), ("PAUSED", "ENTERPRISE_PAUSED"), ("REVOKED", "ENTERPRISE_REVOKED")]
    assert {e["request_id"] for e in events} == {asked["request_id"]}


def test_each_refusal_has_its_code(parties: Parties) -> None:
    world = parties.world
    code, _ = _enterprise(world, 1)
    victim = enterprise_party(parties.folder / "victim", api_url=world.api_url, ca_dir=world.enterprise_ca_dir,
                              credit_code=code, name="Second Co.")
    parties.enterprises.append(victim)
    with parties.enterprise_client(victim) as enterprise, parties.bank_client() as bank, \
            parties.bank_client(parties.other_bank) as other, parties.enterprise_client() as first:
        certificate = victim.certificate.read_bytes(), victim.certificate_key.read_bytes()
        enterprise.sign_up(certificate_pem=certificate[0], certificate_key_pem=certificate[1], signatory="Wang Fang")
        bank.register_keys()
        other.register_keys()

        def ask(loan: str, **options) -> dict:
            return bank.request_consent(code, ITEMS[:1], purpose="PRE_LOAN_REVIEW", loan_application_ref=loan,
                                        **options)

        def approval(request: dict, artefact) -> dict:
            return enterprise.call("POST", f"/v1/enterprise/consent-requests/{request['request_id']}/approval",
                                   body={"artefact": artefact.to_json()})

        def approval_refused(request: dict, artefact, client: EnterpriseClient = enterprise) -> str:
            with pytest.raises(EnterpriseApiError) as refused:
                client.call("POST", f"/v1/enterprise/consent-requests/{request['request_id']}/approval",
                            body={"artefact": artefact.to_json()})
            return refused.value.code

        request = ask("LA-2026-0101", max_uses=2)
        shown = Terms.from_json(enterprise.request(request["request_id"])["terms"])
        now = utc_now()
        # Tampered terms (one more use than the bank asked for); an enterprise that is not the subject.
        assert approval_refused(request, sign_terms(dataclasses.replace(shown, max_uses=9), enterprise.key,
                                                    signed_at=now)) == "TAMPERED_TERMS"
        assert approval_refused(request, sign_terms(shown, first.key, signed_at=now), first) == "NOT_THE_SUBJECT"
        # A replayed enterprise request (the same signature and nonce).
        path = f"/v1/enterprise/consent-requests/{request['request_id']}"
        headers = sign_request(enterprise.key, credit_code=code, method="GET", path=path, now=utc_now())
        with httpx.Client(base_url=world.api_url, timeout=10) as http:
            assert http.get(path, headers=headers).status_code == 200
            replay = http.get(path, headers=headers)
            assert (replay.status_code, replay.json()["code"]) == (401, "REPLAYED_REQUEST")
        consent = approval(request, sign_terms(shown, enterprise.key, signed_at=utc_now()))["authorisation_id"]
        approved = bank.consent_request(request["request_id"])

        def check(client: BankHttpClient, question: str, *, under: dict = approved, **options):
            provider, parsed = parse_check(f"{TAX}:{question}")
            signed = client.sign(under, provider, parsed, **options)
            [result] = client.send(under["authorisation_id"], [signed])
            return signed, result

        first_check, result = check(bank, "revenue_12m_cny >= 1")
        assert result.holds is True
        [again] = bank.send(consent, [first_check])  # the same signed request again: its nonce is burned
        assert again.refusal == "REPLAYED_NONCE"
        assert check(other, "revenue_12m_cny >= 1")[1].refusal == "NOT_AUTHORISED"  # another bank
        assert check(bank, "revenue_12m_cny >= 1", purpose=Purpose.LOAN_APPROVAL)[1].refusal == "WRONG_PURPOSE"
        assert check(bank, "vat_paid_12m_cny >= 1")[1].refusal == "SCOPE_EXCEEDED"  # an item not granted
        assert check(bank, "revenue_12m_cny >= 2")[1].holds is True  # the second and last use
        assert check(bank, "revenue_12m_cny >= 3")[1].refusal == "BUDGET_EXHAUSTED"

        # A signature by a rotated-out key: the old key signs after the rotation.
        second = ask("LA-2026-0102")
        shown2 = Terms.from_json(enterprise.request(second["request_id"])["terms"])
        old_key, new_key = enterprise.key, Ed25519PrivateKey.generate()
        enterprise.rotate(new_key, signatory="Wang Fang")
        enterprise.key = new_key
        assert approval_refused(second, sign_terms(shown2, old_key, signed_at=utc_now())) == "KEY_NOT_VALID"
        consent2 = approval(second, sign_terms(shown2, new_key, signed_at=utc_now()))["authorisation_id"]
        # A signature by a key revoked from a time before it signed: after recovery (earlier keys revoked from a
        # minute ago), the node no longer accepts the consent the now-revoked key signed.
        enterprise.recover(Ed25519PrivateKey.generate(), certificate_pem=certificate[0],
                           certificate_key_pem=certificate[1], signatory="Wang Fang",
                           revoked_from=utc_now() - timedelta(minutes=1))
        revoked = check(bank, "revenue_12m_cny >= 1", under=bank.consent_request(second["request_id"]))[1]
        assert revoked.refusal == "NOT_AUTHORISED"  # ENTERPRISE_KEY_NOT_VALID in the node's own log
        assert bank.consent_request(second["request_id"])["authorisation_id"] == consent2


def test_the_one_log_verifies_then_catches_a_rewritten_deleted_or_reordered_row(parties: Parties) -> None:
    world = parties.world
    with parties.bank_client() as bank:
        trust = bank.log_trust()
    with world.admin() as admin:
        admin.publish_checkpoint()
    log = AuditLog(open_engine(f"sqlite:///{world.registry_db}"))
    kinds = {AuditEvent.from_leaf(leaf.leaf).kind for leaf in log.leaves()}
    assert {EventKind.ENTERPRISE_KEY_CHANGED, EventKind.CONSENT_REQUESTED, EventKind.VERIFICATION_FIELDS_PUBLISHED,
            EventKind.AUTHORISATION_STATUS_CHANGED, EventKind.VERIFICATION_ANSWERED, EventKind.REQUEST_REFUSED} <= kinds
    report = verify_chain(log, trust=trust, witness_answers=world.ask_witnesses(trust))
    assert report.rows_checked == log.tree_size() and report.held
    officer = {"Authorization": f"Bearer {onboard(world.platform_config, 'regulator/pboc', 'compliance')}"}
    with httpx.Client(base_url=world.api_url, timeout=30) as http:
        checked = http.get("/v1/compliance/audit/verification", headers=officer).json()
        assert checked["ok"] and checked["rows_checked"] >= report.rows_checked, checked
        assert checked["newest_cosigned_by"] == ["source/tax"]

    table = log.tables.leaf
    rows = {leaf.index: leaf for leaf in log.leaves(1, 3)}
    forged = rows[1].leaf.replace(b'"v":1', b'"reason_code":"FORGED","v":1')

    def rewrite(conn) -> None:  # a DBA rewrites a row, its hash column included
        conn.execute(update(table).where(table.c.idx == 1).values(leaf=forged, leaf_hash=leaf_hash(forged)))

    def remove(conn) -> None:
        conn.execute(delete(table).where(table.c.idx == 1))

    def swap(conn) -> None:
        for index, other in ((1, 2), (2, 1)):
            conn.execute(update(table).where(table.c.idx == index).values(leaf=rows[other].leaf,
                                                                          leaf_hash=rows[other].leaf_hash))

    for change in (rewrite, remove, swap):
        kept = snapshot(world.registry_db)
        try:
            with log.engine.begin() as conn:
                change(conn)
            with pytest.raises(LogTamperedError):
                verify_chain(log, trust=trust, witness_answers=world.ask_witnesses(trust))
            with httpx.Client(base_url=world.api_url, timeout=30) as http:
                caught = http.get("/v1/compliance/audit/verification", headers=officer).json()
            assert not caught["ok"] and caught["failure"].startswith("LogTamperedError")
        finally:
            restore(world.registry_db, kept)
            kept.close()
    verify_chain(log, trust=trust, witness_answers=world.ask_witnesses(trust))


def test_no_enterprise_private_key_in_any_store(parties: Parties) -> None:
    world = parties.world
    held = b"".join(p.read_bytes() for p in sorted((world.root / "nodes").rglob("*")) if p.is_file())
    held += b"".join(p.read_bytes() for p in sorted((world.root / "logs").rglob("*")) if p.is_file())
    checked = 0
    for party in parties.enterprises:
        key = load_key(Profile.load(party.profile).key_file)
        raw = key.private_bytes_raw()
        pem = b"".join(Profile.load(party.profile).key_file.read_bytes().splitlines()[1:-1])
        for material in (raw, raw.hex().encode(), base64.b64encode(raw), pem):
            assert material not in held, "an enterprise private key reached a node's store"
            checked += 1
        assert key.public_key().public_bytes_raw() in held  # its public half is bound, as it should be
    assert checked == 4 * len(parties.enterprises) >= 8
