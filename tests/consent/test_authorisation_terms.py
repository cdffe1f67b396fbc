"""Terms, their canonical form and id binding, and the enterprise signature over them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.authorisation import (
    DataCategory,
    InvalidSignature,
    InvalidTerms,
    Mode,
    Purpose,
    Sensitivity,
    SignedTerms,
    Subject,
    Terms,
    key_id,
    sign_terms,
)
from consent.authorisation.codec import canonical_json, parse_canonical
from tests.consent.test_authorisation_world import OTHER_CODE, T0, World

CHANGES = {
    "subject": Subject(OTHER_CODE, "Another Co."),
    "grantee": "bank/cmb-sz",
    "providers": ("source/tax",),
    "categories": (DataCategory("tax", Sensitivity.PUBLIC),),
    "mode": Mode.QUERY,
    "purpose": Purpose.LOAN_APPROVAL,
    "loan_application_ref": "LA-2025-0002",
    "created_at": T0 - timedelta(hours=3),
    "not_before": T0 - timedelta(days=2),
    "not_after": T0 + timedelta(days=31),
    "max_uses": 6,
    "data_range": ("2025",),
    "data_life_days": 91,
    "feedback_deadline_days": 29,
    "data_items": ("source/tax:tax_paid_2025",),
}


def test_every_term_is_covered_by_the_id() -> None:
    base = World.terms()
    assert set(CHANGES) | {"authorised_by", "version"} == {f.name for f in dataclasses.fields(Terms)}
    ids = {base.id}
    for name, value in CHANGES.items():
        changed = dataclasses.replace(base, **{name: value})
        assert changed.id not in ids, name
        ids.add(changed.id)


def test_order_of_lists_does_not_matter() -> None:
    one = World.terms(providers=("source/tax", "source/social"), data_range=("2025", "2024"))
    two = World.terms(providers=("source/social", "source/tax"), data_range=("2024", "2025"))
    assert one == two and one.id == two.id


def test_json_round_trip_and_canonical_bytes() -> None:
    terms = World.terms()
    wire = canonical_json(terms.to_json())
    again = Terms.from_json(parse_canonical(wire))
    assert again == terms and again.id == terms.id and canonical_json(again.to_json()) == wire


def test_claimed_id_must_match_terms() -> None:
    data = World.terms().to_json()
    data["max_uses"] = 500
    with pytest.raises(InvalidTerms, match="does not match"):
        Terms.from_json(data)


def test_unexpected_field_is_refused() -> None:
    terms = World.terms()
    data = {**terms.to_json(), "note": "x"}
    with pytest.raises(InvalidTerms):
        Terms.from_json(data)


@pytest.mark.parametrize(
    "bad",
    [
        {"not_after": T0 - timedelta(days=2)},
        {"max_uses": 0},
        {"providers": ()},
        {"providers": ("source/tax", "source/tax")},
        {"categories": ()},
        {"grantee": "ICBC"},
        {"data_range": ()},
        {"loan_application_ref": "has spaces"},
        {"data_life_days": -1},
        {"created_at": T0.replace(tzinfo=None)},
    ],
)
def test_invalid_terms_are_refused(bad: dict) -> None:
    with pytest.raises(InvalidTerms):
        World.terms(**bad)


def test_invalid_credit_code_is_refused() -> None:
    with pytest.raises(InvalidTerms, match="credit code"):
        Subject("91330105MARQ283F4X", "x")


def test_signature_verifies_and_binds_every_byte() -> None:
    key = Ed25519PrivateKey.generate()
    artefact = sign_terms(World.terms(), key, signed_at=T0)
    assert artefact.verify_with(key.public_key()) == World.terms()
    assert artefact.key_id == key_id(key.public_key()) and artefact.signed_at == T0
    with pytest.raises(InvalidSignature):
        artefact.verify_with(Ed25519PrivateKey.generate().public_key())
    assert SignedTerms.from_json(artefact.to_json()) == artefact


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_payload_bit_is_refused(position: int, bit: int) -> None:
    key = _KEY
    artefact = sign_terms(World.terms(), key, signed_at=T0)
    payload = bytearray(artefact.payload)
    payload[position % len(payload)] ^= 1 << bit
    tampered = SignedTerms(bytes(payload), artefact.signature)
    with pytest.raises((InvalidSignature, InvalidTerms, ValueError)):
        tampered.verify_with(key.public_key())


_KEY = Ed25519PrivateKey.generate()


def test_terms_signature_is_not_a_request_signature() -> None:
    from consent.authorisation.signatures import Domain, verify

    key = Ed25519PrivateKey.generate()
    artefact = sign_terms(World.terms(), key, signed_at=T0)
    with pytest.raises(InvalidSignature):
        verify(key.public_key(), Domain.REQUEST, artefact.payload, artefact.signature)
