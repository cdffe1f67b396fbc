"""Verification over real processes: bank -(HTTP)-> platform relay -(mTLS gRPC)-> source node, and a dishonest
relay.

One world (platform with its API + source/tax + source/social_insurance as separate OS processes) serves the
module. The honest flow runs against source/tax; the tampering relay (the test holding the platform's
certificate and calling the node directly) targets source/social_insurance, so its unlogged uses stay out of
tax's cross-check. Banks reach the platform over HTTP only: its gRPC server does not admit them.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cli.bank_http import BankHttpClient
from cli.compliance.checks import cross_check_source, verify_chain
from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    Ed25519Signer,
    EventKind,
    LocalUseLog,
    RollbackError,
    SplitViewError,
    open_engine,
    parse_note,
    sign_checkpoint,
    verify_receipt,
)
from consent.authorisation import (
    Answer,
    AnswerFault,
    AnswerRejected,
    SealedAnswer,
    SignedRequest,
    Status,
    TransitionReason,
    seal_answer,
    sign_terms,
)
from consent.authorisation.codec import b64encode
from consent.authorisation.questions import parse_predicate
from federation.grpc_channel import open_secure_channel
from federation.key_binding import KeyBindingInvalid, bind_keys, load_or_create_ed25519
from federation.pki import Identity
from federation.proto import verification_pb2, verification_pb2_grpc
from platform_node.consent_registry import GrpcWitnessClient
from sandbox.consent_world import PLATFORM, ConsentWorld, demo_terms, enterprise_signs, utc_now

TAX, SOCIAL = "source/tax", "source/social_insurance"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsentWorld]:
    with ConsentWorld(tmp_path_factory.mktemp("verification"), sources=("tax", "social_insurance")) as running:
        yield running
    assert all(p.poll() is not None for p in running.processes.values()), "a node process outlived the world"


def enterprise_with(world: ConsentWorld, unit: str, field: str) -> tuple[str, float]:
    frame = pd.read_csv(world.table(unit), dtype={"credit_code": str})
    row = frame[frame[field] > 0].iloc[0]
    return str(row["credit_code"]), float(row[field])


@pytest.fixture(scope="module")
def bank(world: ConsentWorld) -> Iterator[BankHttpClient]:
    with world.bank("icbc-sz") as client:
        client.register_keys()
        yield client


def test_refused_then_answered_then_revoked(world: ConsentWorld, bank: BankHttpClient) -> None:
    code, value = enterprise_with(world, "tax", "revenue_12m_cny")
    key = Ed25519PrivateKey.generate()
    now = utc_now()
    terms = demo_terms(code, grantee=bank.identity, providers=(TAX,), categories=("tax",), now=now, max_uses=3)
    with world.admin() as admin:
        admin.bind_enterprise_key(code, key.public_key(), valid_from=now - timedelta(days=1))
        unregistered = dataclasses.replace(terms, loan_application_ref="LA-UNSIGNED")
        refused = bank.verify_under(sign_terms(unregistered, key, signed_at=now), TAX,
                                    f"revenue_12m_cny >= {int(value // 2)}")
        assert refused.refusal == "NOT_AUTHORISED" and refused.answer is None

        artefact = enterprise_signs(admin, terms, key, now=now)
        yes = bank.verify_under(artefact, TAX, f"revenue_12m_cny >= {int(value // 2)}")
        no = bank.verify_under(artefact, TAX, f"revenue_12m_cny >= {int(value * 2) + 1}")
        assert (yes.holds, no.holds) == (True, False)
        assert yes.answer is not None and yes.answer.provider == TAX and yes.answer.use_number == 1
        admin.change_status(artefact.terms.id, Status.REVOKED, actor=f"enterprise/{code}",
                            reason=TransitionReason.ENTERPRISE_REVOKED)
        revoked = bank.verify_under(artefact, TAX, "revenue_12m_cny >= 1")
        assert revoked.refusal == "REVOKED"

        # Each answer's leaf sits in the registry's log, byte for byte what the node recorded.
        registry = AuditLog(open_engine(f"sqlite:///{world.registry_db}"))
        local = {leaf.leaf for leaf in LocalUseLog(open_engine(f"sqlite:///{world.source_db('tax')}")).entries()}
        for result, kind in ((yes, EventKind.VERIFICATION_ANSWERED), (revoked, EventKind.REQUEST_REFUSED)):
            (receipt,) = result.receipts
            leaf = base64.b64decode(receipt["leaf"])
            assert registry.leaf(receipt["index"]).leaf == leaf and leaf in local
            assert AuditEvent.from_leaf(leaf).kind is kind
        publication = admin.publish_checkpoint()
        trust = admin.log_trust(now=utc_now())
    assert {w.name for w in trust.witnesses} == {TAX, SOCIAL} and trust.quorum == 2
    event, verified = verify_receipt(bank.receipt(yes.receipts[0]["index"]), trust.log, witnesses=trust.witnesses,
                                     quorum=trust.quorum)
    assert bank.log_trust().log.vkey() == trust.log.vkey()  # the bank's own view, checked against certificates
    assert event.use_id == yes.request_id and verified.checkpoint.size == publication.size
    history = verify_chain(registry, trust=trust, witness_answers=world.ask_witnesses(trust))
    assert history.rows_checked == publication.size and {h.name for h in history.held} == {TAX, SOCIAL}
    report = cross_check_source(registry, open_engine(f"sqlite:///{world.source_db('tax')}"), source=TAX, trust=trust)
    assert report.complete and not report.unexpected
    assert {yes.request_id, no.request_id} <= {e.use_id for e, _ in report.matched}


class DishonestRelay:
    """The platform's certificate in the test's hands: it calls the source node directly."""

    def __init__(self, world: ConsentWorld, source: str) -> None:
        self.tls = world.tls(PLATFORM)
        address = (world.state_of(Identity.parse(source)) / "address").read_text().strip()
        self.channel = open_secure_channel(address, self.tls, Identity.parse(source))
        self.stub = verification_pb2_grpc.VerificationStub(self.channel)

    def answer(self, signed: SignedRequest, keys: verification_pb2.KeyBinding) -> verification_pb2.RelayedAnswer:
        return self.stub.Answer(verification_pb2.RelayedRequest(signed_request=signed.to_bytes(), requester_keys=keys),
                                timeout=10)


def signed_request(bank: BankHttpClient, artefact, question: str) -> SignedRequest:
    """The bank's signed request as the relay forwards it (with the artefact attached)."""
    check = bank.sign_under(artefact, SOCIAL, question)
    return SignedRequest(check.payload, check.signature, artefact)


@pytest.fixture(scope="module")
def social_artefact(world: ConsentWorld, bank: BankHttpClient):
    code, value = enterprise_with(world, "social_insurance", "insured_employees")
    key = Ed25519PrivateKey.generate()
    now = utc_now()
    terms = demo_terms(code, grantee=bank.identity, providers=(SOCIAL,), categories=("social_insurance",), now=now)
    with world.admin() as admin:
        admin.bind_enterprise_key(code, key.public_key(), valid_from=now - timedelta(days=1))
        return enterprise_signs(admin, terms, key, now=now), value


def test_relay_cannot_change_a_request_or_forge_the_banks_keys(world: ConsentWorld, bank: BankHttpClient,
                                                               social_artefact) -> None:
    artefact, value = social_artefact
    relay = DishonestRelay(world, SOCIAL)
    bank_keys = bind_keys(bank.tls, bank.keys.public_keys(), now=utc_now())
    signed = signed_request(bank, artefact, f"insured_employees >= {int(value)}")
    lowered = signed.payload.replace(f'"constant":"{int(value)}"'.encode(), b'"constant":"1"')
    assert lowered != signed.payload
    changed = relay.answer(SignedRequest(lowered, signed.signature, signed.artefact), bank_keys)
    assert changed.refusal.code == "BAD_REQUEST_SIGNATURE"

    # Its own keys under the bank's name: the binding must be signed by the bank's certificate.
    forged = bind_keys(relay.tls, {"request_signing": Ed25519PrivateKey.generate().public_key().public_bytes_raw(),
                                   "answer_sealing": X25519PrivateKey.generate().public_key().public_bytes_raw()},
                       now=utc_now())
    forged_statement = verification_pb2.KeyStatement()
    forged_statement.ParseFromString(forged.statement)
    forged_statement.identity = bank.identity
    forged.statement = forged_statement.SerializeToString()
    with pytest.raises(KeyBindingInvalid):
        bank._bindings.verify(forged, expected=bank.identity)
    genuine = signed_request(bank, artefact, f"insured_employees >= {int(value)}")
    assert relay.answer(genuine, forged).HasField("sealed_answer")  # the node ignored the forgery ...
    replayed = relay.answer(genuine, bank_keys)
    assert replayed.refusal.code == "REPLAYED_NONCE"  # ... and a request is answered once only


def test_relay_cannot_read_or_alter_an_answer_and_dropped_uses_are_found(world: ConsentWorld, bank: BankHttpClient,
                                                                        social_artefact) -> None:
    artefact, value = social_artefact
    relay = DishonestRelay(world, SOCIAL)
    bank_keys = bind_keys(bank.tls, bank.keys.public_keys(), now=utc_now())
    check = bank.sign_under(artefact, SOCIAL, f"insured_employees >= {int(value)}")
    signed = SignedRequest(check.payload, check.signature, artefact)
    reply = relay.answer(signed, bank_keys)
    assert reply.HasField("sealed_answer") and len(reply.audit_leaves) == 1
    sealed = SealedAnswer.from_bytes(reply.sealed_answer)
    assert b"insured_employees" not in sealed.ciphertext and b"true" not in reply.sealed_answer
    with world.admin() as admin:
        source_keys = next(b for b in admin.stub.RegistryKeys(verification_pb2.RegistryKeysRequest()).witnesses
                           if SOCIAL.encode() in b.statement)

    def as_relayed(sealed_answer: SealedAnswer, provider_keys=source_keys) -> dict:
        """What the platform's HTTP relay would hand the bank."""
        return {"status": "ANSWERED", "sealed_answer": b64encode(sealed_answer.to_bytes()),
                "provider_keys": b64encode(provider_keys.SerializeToString()), "receipts": []}

    genuine = bank.open(check, as_relayed(sealed))
    assert genuine.holds is True
    flipped = dataclasses.replace(sealed, ciphertext=bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:])
    with pytest.raises(AnswerRejected) as tampered:
        bank.open(check, as_relayed(flipped))
    assert tampered.value.fault is AnswerFault.TAMPERED
    # An answer the relay makes up itself, sealed to the bank, flipping the result to false.
    fake = Answer(request_id=signed.request_id, authorisation_id=artefact.terms.id, provider=SOCIAL,
                  requester=bank.identity, question=parse_predicate(f"insured_employees >= {int(value)}"),
                  result=False, use_number=1, answered_at=utc_now())
    made_up = seal_answer(fake, signing_key=Ed25519PrivateKey.generate(), recipient=bank.keys.sealing.public_key())
    with pytest.raises(AnswerRejected) as forged:
        bank.open(check, as_relayed(made_up))
    assert forged.value.fault is AnswerFault.BAD_SIGNATURE
    own_keys = bind_keys(relay.tls, {"answer_signing": Ed25519PrivateKey.generate().public_key().public_bytes_raw()},
                         now=utc_now())
    with pytest.raises(KeyBindingInvalid):
        bank.open(check, as_relayed(made_up, own_keys))

    # The relay never appended these uses to the registry: the node's own log gives them away.
    with world.admin() as admin:
        admin.publish_checkpoint()
        trust = admin.log_trust(now=utc_now())
    registry = AuditLog(open_engine(f"sqlite:///{world.registry_db}"))
    report = cross_check_source(registry, open_engine(f"sqlite:///{world.source_db('social_insurance')}"),
                                source=SOCIAL, trust=trust)
    assert not report.complete
    assert signed.request_id in {e.use_id for e in report.missing}


def test_relay_refuses_a_bank_relaying_for_another(world: ConsentWorld, bank: BankHttpClient, social_artefact) -> None:
    artefact, value = social_artefact
    with world.bank("cmb-sz") as other:
        other.register_keys()
        stolen = bank.sign_under(artefact, SOCIAL, "insured_employees >= 1")
        [relayed] = other.send(artefact.terms.id, [stolen])
        assert relayed.refusal == "REQUESTER_MISMATCH"
        own = other.verify_under(artefact, SOCIAL, "insured_employees >= 1")
        assert own.refusal == "NOT_AUTHORISED"  # not the grantee: the public code hides whether the artefact exists
        assert own.request_id != stolen.request_id
    # Banks have no gRPC way in: the platform's server does not admit a bank certificate.
    with open_secure_channel(world.platform_address, world.tls(Identity("bank", "icbc-sz")), PLATFORM) as channel, \
            pytest.raises(grpc.RpcError) as denied:
        verification_pb2_grpc.ConsentRegistryStub(channel).RegistryKeys(verification_pb2.RegistryKeysRequest(),
                                                                         timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_witness_refuses_a_split_view_and_a_rollback_over_the_network(world: ConsentWorld) -> None:
    with world.admin() as admin:
        latest = admin.publish_checkpoint()
    head = Checkpoint.from_body(parse_note(latest.note).text)
    # The platform's own log key, as a dishonest operator holding it would use it.
    log_key = load_or_create_ed25519(world.state_of(PLATFORM) / "consent" / "keys" / "audit-log.pem")
    signer = Ed25519Signer(head.origin, log_key)
    relay = DishonestRelay(world, TAX)
    witness = GrpcWitnessClient(TAX, verification_pb2_grpc.WitnessStub(relay.channel))
    assert witness.known_size(head.origin) == head.size
    other_root = sign_checkpoint(Checkpoint(head.origin, head.size, bytes(32)), signer)
    with pytest.raises(SplitViewError) as split:
        witness.add_checkpoint(other_root, old_size=head.size, proof=[], now=utc_now())
    assert split.value.known_root == head.root
    smaller = sign_checkpoint(Checkpoint(head.origin, head.size - 1, bytes(32)), signer)
    with pytest.raises(RollbackError):
        witness.add_checkpoint(smaller, old_size=head.size, proof=[], now=utc_now())
    assert witness.known_size(head.origin) == head.size
