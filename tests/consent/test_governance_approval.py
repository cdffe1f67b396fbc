"""The approval artefact: strict terms, an id that names exactly the terms, and the source unit's signature."""

from __future__ import annotations

import base64
import json
from dataclasses import fields
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.canonical_json import canonical_json
from consent.governance import (
    ApprovalTerms,
    BadApprovalSignature,
    InvalidApproval,
    Quotas,
    Serving,
    SignedApproval,
    sign_approval,
)
from tests.consent.governance_world import T0, terms

CHANGES = {
    "source": "source/court", "project": "other-project", "purpose": "PRE_LOAN_REVIEW", "description": "else",
    "leader": "platform/backup", "counterparties": ("source/customs",), "items": ("revenue",),
    "algorithms": {"psi": 0, "secureboost": 3072}, "serving": Serving(online=False),
    "quotas": Quotas(rows=1, queries=1), "not_before": T0 - timedelta(days=1),
    "not_after": T0 + timedelta(days=1), "requested_by": "admin/other",
}


def test_every_term_is_covered_by_the_id() -> None:
    names = {f.name for f in fields(ApprovalTerms) if f.init}
    assert names == set(CHANGES)
    base = terms()
    for name, value in CHANGES.items():
        assert terms(**{name: value}).approval_id != base.approval_id, name
    assert terms().approval_id == base.approval_id and base.approval_id.startswith("apv-")


def test_terms_round_trip_through_json() -> None:
    original = terms()
    assert ApprovalTerms.from_json(json.loads(json.dumps(original.to_json()))) == original


@pytest.mark.parametrize("changes, message", [
    ({"leader": "source/social_insurance"}, "only the platform may lead"),
    ({"source": "platform/main"}, "source unit"),
    ({"project": "Bad Project"}, "project"),
    ({"purpose": "risk modelling"}, "UPPER_SNAKE"),
    ({"algorithms": {"deep_learning": 0}}, "unknown algorithms"),
    ({"algorithms": {}}, "at least one"),
    ({"algorithms": {"secureboost": -1}}, "non-negative"),
    ({"counterparties": ("platform/main",)}, "not the source or the leader"),
    ({"counterparties": ("source/a", "source/a")}, "twice"),
    ({"items": ("bad item",)}, "items"),
    ({"not_after": T0}, "empty"),
])
def test_malformed_terms_are_refused(changes, message) -> None:
    with pytest.raises(InvalidApproval, match=message):
        terms(**changes)


def test_quotas_are_whole_non_negative_counts() -> None:
    for rows, queries in ((1, 1.5), (-1, 0), (True, 0)):
        with pytest.raises(InvalidApproval, match="non-negative integer"):
            Quotas(rows=rows, queries=queries)


def test_unknown_or_missing_fields_are_refused_when_parsing() -> None:
    body = terms().to_json()
    with pytest.raises(InvalidApproval, match="unknown fields"):
        ApprovalTerms.from_json({**body, "extra": 1})
    del body["items"]
    with pytest.raises(InvalidApproval, match="missing"):
        ApprovalTerms.from_json(body)


def test_the_signature_verifies_only_with_the_units_key_and_untouched_bytes() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_approval(terms(), key, signed_at=T0)
    assert signed.verify_with(key.public_key()) == terms()
    assert SignedApproval.from_json(signed.to_json()) == signed
    with pytest.raises(BadApprovalSignature, match="another approval key"):
        signed.verify_with(Ed25519PrivateKey.generate().public_key())
    # A foreign key that claims the right key id still fails on the signature itself.
    content = json.loads(signed.payload)
    forged_payload = canonical_json({**content, "signed_at": "2026-03-01T09:00:01Z"})
    with pytest.raises(BadApprovalSignature, match="does not verify"):
        SignedApproval(forged_payload, signed.signature).verify_with(key.public_key())
    # Widening a term (more rows) changes the payload: the signature no longer covers it.
    content["terms"]["quotas"]["rows"] = 10**9
    with pytest.raises(BadApprovalSignature):
        SignedApproval(canonical_json(content), signed.signature).verify_with(key.public_key())


def test_a_non_canonical_payload_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_approval(terms(), key, signed_at=T0)
    spaced = json.dumps(json.loads(signed.payload), indent=1).encode()
    with pytest.raises(InvalidApproval, match="canonical"):
        SignedApproval(spaced, signed.signature).verify_with(key.public_key())
    with pytest.raises(InvalidApproval):
        SignedApproval.from_json({"payload": "not base64!", "signature": ""})
    with pytest.raises(InvalidApproval):
        SignedApproval.from_json({"payload": base64.b64encode(b"{}").decode()})


def test_naming_items_is_off_by_default_and_leaves_older_approvals_ids_alone() -> None:
    """`serving.name_items` is written only when granted: terms without it serialise (and so hash) as before."""
    plain = terms()
    assert plain.serving.name_items is False and "name_items" not in plain.to_json()["serving"]
    named = terms(serving=Serving(online=True, institution_kinds=("bank",), name_items=True))
    assert named.to_json()["serving"]["name_items"] is True
    assert ApprovalTerms.from_json(json.loads(json.dumps(named.to_json()))) == named
    assert named.approval_id != terms(serving=Serving(online=True, institution_kinds=("bank",))).approval_id
    with pytest.raises(InvalidApproval, match="name_items"):
        Serving(online=True, name_items="yes")
    body = plain.to_json()
    body["serving"] = {**body["serving"], "name_items": 1}
    with pytest.raises(InvalidApproval, match="name_items"):
        ApprovalTerms.from_json(body)
