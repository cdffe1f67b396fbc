"""The leaf rules: canonical encoding, round trip, and refusal of free text and personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.audit import AuditEvent, EventKind, EventRejected, keyed_ref, sha256_hex

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def answered(**overrides: object) -> AuditEvent:
    fields = {
        "kind": EventKind.VERIFICATION_ANSWERED,
        "occurred_at": AT,
        "authorisation_id": "auth-7f3a",
        "use_id": "9b2f7f7e-1c1a-4a55-9ad2-123456789012",
        "institution": "bank/icbc-sz",
        "source_unit": "source/tax",
        "digests": {"request": sha256_hex(b"signed request"), "answer": sha256_hex(b"sealed answer")},
    }
    fields.update(overrides)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_leaf_is_rfc8785_canonical_json_and_round_trips() -> None:
    event = answered()
    leaf = event.to_leaf()
    document = json.loads(leaf)
    assert leaf == rfc8785.dumps(document)
    assert document["v"] == 1 and document["kind"] == "verification_answered"
    assert document["at"] == "2026-03-01T09:30:15.123Z"  # UTC, millisecond precision
    assert "job_id" not in document  # unset fields are omitted
    assert AuditEvent.from_leaf(leaf) == event


def test_time_is_normalised_to_utc_milliseconds() -> None:
    shanghai = timezone(timedelta(hours=8))
    local = answered(occurred_at=datetime(2026, 3, 1, 17, 30, 15, 123999, tzinfo=shanghai))
    assert local.to_leaf() == answered().to_leaf()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("institution", "Industrial and Commercial Bank"),  # free text (spaces)
        ("actor", "张三"),  # a name in Chinese
        ("actor", "zhang.san@example.com"),  # an e-mail address
        ("use_id", "x" * 129),  # too long
        ("actor", "110101199003070011"),  # resident identity number
        ("authorisation_id", "auth:91350100M000100Y43"),  # unified social credit code inside an id
        ("actor", "user-13812345678"),  # mobile number
        ("use_id", "card-6222021234567890123"),  # bank card number
        ("status_to", "Active"),  # codes are UPPER_SNAKE
        ("subject_ref", "91350100M000100Y43"),  # subject must be a keyed hash
    ],
)
def test_personal_data_and_free_text_are_refused(field: str, value: str) -> None:
    with pytest.raises(EventRejected) as refused:
        answered(**{field: value})
    assert refused.value.field == field


def test_required_ids_per_kind() -> None:
    with pytest.raises(EventRejected, match="source_unit"):
        answered(source_unit=None)
    with pytest.raises(EventRejected, match="reason_code"):
        AuditEvent(
            kind=EventKind.AUTHORISATION_STATUS_CHANGED, occurred_at=AT, authorisation_id="a-1",
            status_from="ACTIVE", status_to="REVOKED", actor="enterprise",
        )


def test_bad_digests_kinds_and_times_are_refused() -> None:
    with pytest.raises(EventRejected, match="digests.answer"):
        answered(digests={"answer": "true"})  # a raw value instead of a digest
    with pytest.raises(EventRejected):
        answered(digests={f"d{i}": sha256_hex(bytes([i])) for i in range(9)})
    with pytest.raises(EventRejected, match="kind"):
        answered(kind="data_sold")
    with pytest.raises(EventRejected, match="occurred_at"):
        answered(occurred_at=datetime(2026, 3, 1))  # naive time


def test_leaf_parser_refuses_unknown_keys_other_versions_and_non_canonical_bytes() -> None:
    document = json.loads(answered().to_leaf())
    with pytest.raises(EventRejected, match="comment"):
        AuditEvent.from_leaf(rfc8785.dumps({**document, "comment": "customer said hi"}))
    with pytest.raises(EventRejected, match="version"):
        AuditEvent.from_leaf(rfc8785.dumps({**document, "v": 2}))
    with pytest.raises(EventRejected, match="canonical"):
        AuditEvent.from_leaf(json.dumps(document, indent=1).encode())
    with pytest.raises(EventRejected):
        AuditEvent.from_leaf(b"\xff not json")


def test_keyed_ref_hides_low_entropy_identifiers() -> None:
    key = b"k" * 32
    ref = keyed_ref(key, "91350100M000100Y43")
    assert len(ref) == 64 and ref != sha256_hex(b"91350100M000100Y43")
    assert answered(subject_ref=ref).subject_ref == ref
    with pytest.raises(ValueError):
        keyed_ref(b"short", "x")


ids = st.from_regex(r"[a-z][a-z0-9-]{0,20}(/[a-z0-9-]{1,12})?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(use=ids, institution=ids, millis=st.integers(0, 10**12))
def test_any_valid_event_round_trips_through_its_leaf(use: str, institution: str, millis: int) -> None:
    event = answered(use_id=use, institution=institution,
                     occurred_at=datetime.fromtimestamp(millis / 1000, tz=UTC))
    assert AuditEvent.from_leaf(event.to_leaf()) == event
