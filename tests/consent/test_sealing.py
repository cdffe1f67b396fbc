"""Answers: signed by the source node, sealed to the bank, opened only by the bank; tampering is caught."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from consent.authorisation import (
    AnswerFault,
    AnswerRejected,
    MatchCheck,
    Mode,
    RawDetail,
    RawValue,
    SealedAnswer,
    ValueType,
    open_answer,
    parse_predicate,
    seal_answer,
)
from tests.consent.test_authorisation_world import CREDIT_CODE, T0, TABLE, TAX, World, deterministic_rng


@pytest.fixture
def world() -> World:
    return World()


def bank_opens(world: World, sealed: SealedAnswer, request_id: str):
    return open_answer(
        sealed,
        recipient_key=world.bank.sealing,
        provider_key=world.node.signing.public_key(),
        request_id=request_id,
        provider=TAX,
    )


def answered(world: World, question, **terms):
    artefact = world.active(**terms)
    request = world.request(artefact, question)
    sealed = world.responder.respond(request, now=T0, rng=deterministic_rng())
    return request, sealed


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("tax_paid_2025 >= 1000000", True),
        ("tax_paid_2025 > 1250000", False),
        ("tax_paid_2024 < 980000.6", True),
        ("tax_arrears == false", True),
        ('tax_grade != "A"', False),
    ],
)
def test_predicate_round_trip(world: World, predicate: str, expected: bool) -> None:
    request, sealed = answered(world, parse_predicate(predicate))
    answer = bank_opens(world, sealed, request.request_id)
    assert answer.result is expected
    assert answer.request_id == request.request_id and answer.use_number == 1
    receipt = answer.receipt
    assert receipt["index"] == 0 and receipt["tree_size"] == 1
    leaf = world.node_audit.leaf(0)
    assert receipt["leaf_hash"] == leaf.leaf_hash.hex()
    assert leaf.event.use_id == request.request_id


def test_match_check_within_tolerance(world: World) -> None:
    artefact = world.active()
    close = world.request(artefact, MatchCheck("insured_headcount", 35, 2))
    far = world.request(artefact, MatchCheck("insured_headcount", 30, 2))
    assert bank_opens(world, world.responder.respond(close, now=T0), close.request_id).result is True
    assert bank_opens(world, world.responder.respond(far, now=T0), far.request_id).result is False


def test_missing_value_is_reported_as_no_record(world: World) -> None:
    from consent.authorisation import DataCategory, Sensitivity

    request, sealed = answered(
        world,
        parse_predicate("invoice_total_2025 > 0"),
        categories=(DataCategory("invoices", Sensitivity.TRADE_SECRET),),
    )
    assert bank_opens(world, sealed, request.request_id).result is None


def test_raw_detail_under_query_mode(world: World) -> None:
    request, sealed = answered(world, RawDetail("tax_paid_2024"), mode=Mode.QUERY)
    answer = bank_opens(world, sealed, request.request_id)
    assert answer.result == RawValue(ValueType.NUMBER, "980000.5")
    assert answer.result.value == str(TABLE[CREDIT_CODE]["tax_paid_2024"])


def test_relay_cannot_read_the_answer(world: World) -> None:
    request, sealed = answered(world, RawDetail("tax_grade"), mode=Mode.QUERY)
    wire = sealed.to_bytes()
    assert b"tax_grade" not in wire and CREDIT_CODE.encode() not in wire
    # Any other X25519 key (the platform's, say) fails to open it.
    with pytest.raises(AnswerRejected) as caught:
        open_answer(sealed, recipient_key=X25519PrivateKey.generate(),
                    provider_key=world.node.signing.public_key(), request_id=request.request_id, provider=TAX)
    assert caught.value.fault is AnswerFault.TAMPERED


def test_wire_form_round_trips(world: World) -> None:
    request, sealed = answered(world, parse_predicate("tax_paid_2025 >= 1"))
    assert SealedAnswer.from_bytes(sealed.to_bytes()) == sealed
    assert bank_opens(world, SealedAnswer.from_bytes(sealed.to_bytes()), request.request_id).result is True


def test_platform_tampers_with_ciphertext(world: World) -> None:
    request, sealed = answered(world, parse_predicate("tax_paid_2025 >= 1000000"))
    for position in (0, len(sealed.ciphertext) // 2, len(sealed.ciphertext) - 1):
        flipped = bytearray(sealed.ciphertext)
        flipped[position] ^= 0x01
        with pytest.raises(AnswerRejected) as caught:
            bank_opens(world, dataclasses.replace(sealed, ciphertext=bytes(flipped)), request.request_id)
        assert caught.value.fault is AnswerFault.TAMPERED


@pytest.mark.parametrize("header", ["nonce", "ephemeral_public", "requester"])
def test_platform_tampers_with_headers(world: World, header: str) -> None:
    request, sealed = answered(world, parse_predicate("tax_paid_2025 >= 1000000"))
    if header == "requester":
        changed = dataclasses.replace(sealed, requester="bank/cmb-sz")
    else:
        value = bytearray(getattr(sealed, header))
        value[0] ^= 0x80
        changed = dataclasses.replace(sealed, **{header: bytes(value)})
    with pytest.raises(AnswerRejected) as caught:
        bank_opens(world, changed, request.request_id)
    assert caught.value.fault is AnswerFault.TAMPERED


def test_answer_to_another_request_is_refused(world: World) -> None:
    artefact = world.active()
    first = world.request(artefact, parse_predicate("tax_paid_2025 >= 1000000"))
    second = world.request(artefact, parse_predicate("tax_paid_2025 >= 2000000"))
    first_sealed = world.responder.respond(first, now=T0)
    world.responder.respond(second, now=T0)
    with pytest.raises(AnswerRejected) as caught:
        bank_opens(world, first_sealed, second.request_id)
    assert caught.value.fault is AnswerFault.MISMATCH
    # Relabelling the headers to the other request id breaks the associated data.
    with pytest.raises(AnswerRejected) as caught:
        bank_opens(world, dataclasses.replace(first_sealed, request_id=second.request_id), second.request_id)
    assert caught.value.fault is AnswerFault.TAMPERED


def test_answer_signed_by_an_impostor_node(world: World) -> None:
    use_answer = world.responder.answer(
        world.gate.check(world.request(world.active(max_uses=9), parse_predicate("tax_paid_2025 > 0")), now=T0)
    )
    forged = seal_answer(use_answer, signing_key=Ed25519PrivateKey.generate(), recipient=world.bank.sealing.public_key())
    with pytest.raises(AnswerRejected) as caught:
        bank_opens(world, forged, use_answer.request_id)
    assert caught.value.fault is AnswerFault.BAD_SIGNATURE


def test_sealing_is_randomised(world: World) -> None:
    artefact = world.active()
    use = world.gate.check(world.request(artefact, parse_predicate("tax_paid_2025 > 0")), now=T0)
    answer = world.responder.answer(use)
    one = seal_answer(answer, signing_key=world.node.signing, recipient=world.bank.sealing.public_key())
    two = seal_answer(answer, signing_key=world.node.signing, recipient=world.bank.sealing.public_key())
    assert one.ephemeral_public != two.ephemeral_public and one.ciphertext != two.ciphertext
    assert bank_opens(world, one, use.request_id) == bank_opens(world, two, use.request_id) == answer


def test_answer_time_is_the_use_time(world: World) -> None:
    artefact = world.active()
    later = T0 + timedelta(seconds=42)
    request = world.request(artefact, parse_predicate("tax_paid_2025 > 0"), now=later)
    answer = bank_opens(world, world.responder.respond(request, now=later), request.request_id)
    assert answer.answered_at == later
