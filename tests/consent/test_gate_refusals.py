"""One test per refusal: each is refused with its reason code and consumes nothing (no use, no field check,
no use leaf)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.authorisation import (
    AuthorisationRefused,
    GatePolicy,
    MatchCheck,
    Mode,
    Purpose,
    RawDetail,
    RefusalReason,
    SignedRequest,
    Status,
    TransitionReason,
    issue_status,
    parse_predicate,
)
from consent.authorisation.status_source import UnreachableRegistry
from tests.consent.test_authorisation_world import (
    BANK,
    CREDIT_CODE,
    SOCIAL,
    T0,
    World,
)

QUESTION = parse_predicate("tax_paid_2025 >= 1000000")


@pytest.fixture
def world() -> World:
    return World()


def refuse(world: World, request: SignedRequest, reason: RefusalReason, *, now=T0, field="tax_paid_2025"):
    """Assert the refusal code and that nothing was consumed."""
    auth_id = request.artefact.terms.id
    before = world.consumed(auth_id, field)
    with pytest.raises(AuthorisationRefused) as caught:
        world.gate.check(request, now=now)
    assert caught.value.reason is reason, caught.value
    assert world.consumed(auth_id, field) == before
    return caught.value


def move(world: World, auth_id: str, target: Status, reason: TransitionReason) -> None:
    world.store.transition(auth_id, target, actor="enterprise/" + CREDIT_CODE, reason=reason, now=T0)


def test_happy_path_is_counted_once(world: World) -> None:
    artefact = world.active()
    use = world.gate.check(world.request(artefact, QUESTION), now=T0)
    assert use.use_number == 1 and use.field_checks_spent == 1
    assert world.consumed(artefact.terms.id) == (1, 1, 1)


def test_paused(world: World) -> None:
    artefact = world.active()
    move(world, artefact.terms.id, Status.PAUSED, TransitionReason.ENTERPRISE_PAUSED)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.PAUSED)


def test_revoked(world: World) -> None:
    artefact = world.active()
    move(world, artefact.terms.id, Status.REVOKED, TransitionReason.ENTERPRISE_REVOKED)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.REVOKED)


def test_expired_status(world: World) -> None:
    artefact = world.active()
    move(world, artefact.terms.id, Status.EXPIRED, TransitionReason.WINDOW_ENDED)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.EXPIRED)


def test_expired_window_while_still_active(world: World) -> None:
    artefact = world.active()
    late = artefact.terms.not_after
    refuse(world, world.request(artefact, QUESTION, now=late), RefusalReason.EXPIRED, now=late)


def test_not_yet_valid(world: World) -> None:
    artefact = world.active(not_before=T0 + timedelta(days=1), not_after=T0 + timedelta(days=10))
    refuse(world, world.request(artefact, QUESTION), RefusalReason.NOT_YET_VALID)


def test_pending_is_not_active(world: World) -> None:
    artefact = world.sign(world.terms())
    world.store.register(artefact, actor="platform/registry", now=T0 - timedelta(minutes=5))
    refuse(world, world.request(artefact, QUESTION), RefusalReason.NOT_ACTIVE)


def test_wrong_grantee(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, QUESTION, signer=world.other_bank), RefusalReason.WRONG_GRANTEE)


def test_wrong_purpose(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION, purpose=Purpose.POST_LOAN_MONITORING)
    refuse(world, request, RefusalReason.WRONG_PURPOSE)


def test_wrong_loan_reference_is_wrong_purpose(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, QUESTION, loan_application_ref="LA-2025-9999"), RefusalReason.WRONG_PURPOSE)


def test_scope_exceeded_category_not_authorised(world: World) -> None:
    artefact = world.active()
    question = parse_predicate("invoice_total_2025 > 0")
    refuse(world, world.request(artefact, question), RefusalReason.SCOPE_EXCEEDED, field="invoice_total_2025")


def test_scope_exceeded_unknown_field(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, parse_predicate("salary_of_ceo > 0")), RefusalReason.SCOPE_EXCEEDED,
           field="salary_of_ceo")


def test_scope_exceeded_sensitivity_mislabelled(world: World) -> None:
    from consent.authorisation import DataCategory, Sensitivity

    artefact = world.active(categories=(DataCategory("tax", Sensitivity.PUBLIC),))
    refuse(world, world.request(artefact, QUESTION), RefusalReason.SCOPE_EXCEEDED)


def test_scope_exceeded_data_item_not_granted(world: World) -> None:
    """The terms list data items: a field of an authorised category that is not among them is refused, one
    that is among them is answered."""
    from consent.authorisation.catalogue import data_item

    artefact = world.active(data_items=(data_item("source/tax", "tax_paid_2025"),))
    refuse(world, world.request(artefact, parse_predicate("tax_paid_2024 > 5")), RefusalReason.SCOPE_EXCEEDED,
           field="tax_paid_2024")
    assert world.gate.check(world.request(artefact, QUESTION), now=T0).field.name == "tax_paid_2025"


def test_data_range_exceeded(world: World) -> None:
    artefact = world.active()
    question = parse_predicate("tax_paid_2021 > 5")
    refuse(world, world.request(artefact, question), RefusalReason.DATA_RANGE_EXCEEDED, field="tax_paid_2021")


def test_raw_detail_needs_query_mode(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, RawDetail("tax_paid_2025")), RefusalReason.WRONG_MODE)


def test_joint_model_mode_answers_nothing(world: World) -> None:
    artefact = world.active(mode=Mode.JOINT_MODEL)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.WRONG_MODE)


def test_question_type_must_fit_field(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, parse_predicate('tax_paid_2025 == "A"')), RefusalReason.MALFORMED_REQUEST)


def test_budget_exhausted(world: World) -> None:
    artefact = world.active(max_uses=2)
    for n in (1, 2):
        assert world.gate.check(world.request(artefact, QUESTION), now=T0).use_number == n
    refuse(world, world.request(artefact, QUESTION), RefusalReason.BUDGET_EXHAUSTED)
    assert world.consumed(artefact.terms.id) == (2, 2, 2)


def test_field_budget_exhausted_stops_binary_search(world: World) -> None:
    world = World(policy=GatePolicy(checks_per_field=3))
    artefact = world.active(max_uses=100)
    for threshold in (1_000_000, 1_500_000, 1_250_000):
        world.gate.check(world.request(artefact, parse_predicate(f"tax_paid_2025 >= {threshold}")), now=T0)
    refuse(world, world.request(artefact, parse_predicate("tax_paid_2025 >= 1375000")),
           RefusalReason.FIELD_BUDGET_EXHAUSTED)
    # A match check on the same field draws on the same allowance; another field has its own.
    refuse(world, world.request(artefact, MatchCheck("tax_paid_2025", 1_250_000, 0)),
           RefusalReason.FIELD_BUDGET_EXHAUSTED)
    assert world.gate.check(world.request(artefact, parse_predicate("tax_paid_2024 > 0")), now=T0).use_number == 4


def test_bad_enterprise_signature(world: World) -> None:
    artefact = world.active()
    forged = type(artefact)(artefact.payload, bytes(64))
    refuse(world, world.request(forged, QUESTION), RefusalReason.BAD_ENTERPRISE_SIGNATURE)


def test_artefact_signed_by_someone_else_under_the_enterprise_key_id(world: World) -> None:
    artefact = world.active()
    impostor = Ed25519PrivateKey.generate()
    resigned = world.sign(artefact.terms, key=impostor)
    # Same terms (same id) but signed with a key the registry never bound to this enterprise.
    refuse(world, world.request(resigned, QUESTION), RefusalReason.UNKNOWN_ENTERPRISE_KEY)


def test_unknown_enterprise_key(world: World) -> None:
    stranger = Ed25519PrivateKey.generate()
    artefact = world.sign(world.terms(), key=stranger)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.UNKNOWN_ENTERPRISE_KEY)


def test_enterprise_key_revoked_before_signing(world: World) -> None:
    artefact = world.active()
    kid = artefact.key_id
    world.keys.revoke(CREDIT_CODE, kid, at=artefact.signed_at - timedelta(minutes=1))
    refuse(world, world.request(artefact, QUESTION), RefusalReason.ENTERPRISE_KEY_NOT_VALID)


def test_rotation_keeps_old_artefacts_valid(world: World) -> None:
    artefact = world.active()
    world.keys.rotate(CREDIT_CODE, Ed25519PrivateKey.generate().public_key(), at=T0 - timedelta(minutes=10))
    assert world.gate.check(world.request(artefact, QUESTION), now=T0).use_number == 1


def test_bad_bank_signature(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION)
    forged = SignedRequest(request.payload, bytes(64), request.artefact)
    refuse(world, forged, RefusalReason.BAD_REQUEST_SIGNATURE)


def test_request_signed_with_another_banks_key(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION, signer=world.other_bank, requester=BANK)
    refuse(world, request, RefusalReason.BAD_REQUEST_SIGNATURE)


def test_unknown_requester(world: World) -> None:
    artefact = world.active()
    world.directory.remove(BANK)
    error = refuse(world, world.request(artefact, QUESTION), RefusalReason.UNKNOWN_REQUESTER)
    assert error.reason.public_code == RefusalReason.BAD_REQUEST_SIGNATURE.value


def test_replayed_nonce(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION)
    world.gate.check(request, now=T0)
    refuse(world, request, RefusalReason.REPLAYED_NONCE, now=T0 + timedelta(seconds=30))
    assert world.consumed(artefact.terms.id) == (1, 1, 1)


def test_refused_request_burns_its_nonce_but_nothing_else(world: World) -> None:
    artefact = world.active()
    move(world, artefact.terms.id, Status.PAUSED, TransitionReason.ENTERPRISE_PAUSED)
    request = world.request(artefact, QUESTION)
    refuse(world, request, RefusalReason.PAUSED)
    move(world, artefact.terms.id, Status.ACTIVE, TransitionReason.ENTERPRISE_RESUMED)
    # A relay that held the refused request back cannot replay it after the resume.
    refuse(world, request, RefusalReason.REPLAYED_NONCE)


def test_stale_timestamp(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION, now=T0 - timedelta(minutes=3))
    refuse(world, request, RefusalReason.STALE_TIMESTAMP)


def test_future_timestamp(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, QUESTION, now=T0 + timedelta(minutes=5)), RefusalReason.FUTURE_TIMESTAMP)


def test_replay_cache_forgets_only_what_freshness_refuses(world: World) -> None:
    artefact = world.active(max_uses=50)
    window = world.gate.policy.timestamp_window
    request = world.request(artefact, QUESTION)
    world.gate.check(request, now=T0)
    refuse(world, request, RefusalReason.REPLAYED_NONCE, now=T0 + window)
    world.gate.check(world.request(artefact, QUESTION, now=T0 + window * 2), now=T0 + window * 2)
    assert world.gate.replay_cache.size() == 1
    refuse(world, request, RefusalReason.STALE_TIMESTAMP, now=T0 + window * 2)


def test_platform_tampers_with_request_bytes(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION)
    tampered = SignedRequest(request.payload.replace(b"1000000", b"1000001"), request.signature, request.artefact)
    assert tampered.payload != request.payload
    refuse(world, tampered, RefusalReason.BAD_REQUEST_SIGNATURE)


def test_platform_breaks_canonical_form(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION)
    tampered = SignedRequest(request.payload + b" ", request.signature, request.artefact)
    refuse(world, tampered, RefusalReason.MALFORMED_REQUEST)


def test_platform_swaps_the_artefact(world: World) -> None:
    artefact = world.active()
    other = world.active(max_uses=99)
    request = world.request(artefact, QUESTION)
    swapped = SignedRequest(request.payload, request.signature, other)
    refuse(world, swapped, RefusalReason.UNKNOWN_AUTHORISATION)
    assert world.consumed(other.terms.id) == (0, 0, 0)


def test_wrong_provider(world: World) -> None:
    artefact = world.active()
    refuse(world, world.request(artefact, QUESTION, provider=SOCIAL), RefusalReason.WRONG_PROVIDER)


def test_not_a_provider(world: World) -> None:
    artefact = world.active(providers=(SOCIAL,))
    refuse(world, world.request(artefact, QUESTION), RefusalReason.NOT_A_PROVIDER)


def test_unknown_to_registry(world: World) -> None:
    artefact = world.sign(world.terms())
    error = refuse(world, world.request(artefact, QUESTION), RefusalReason.UNKNOWN_AUTHORISATION)
    assert error.reason.public_code == "NOT_AUTHORISED"


def test_registry_unreachable_without_statement() -> None:
    world = World(status_source=UnreachableRegistry())
    artefact = world.active()
    refuse(world, world.request(artefact, QUESTION), RefusalReason.STATUS_UNAVAILABLE)


def test_registry_unreachable_with_signed_status() -> None:
    world = World(status_source=UnreachableRegistry())
    artefact = world.active()
    status = issue_status(artefact.terms.id, Status.ACTIVE, world.registry_key, issuer="platform/registry",
                          now=T0 - timedelta(minutes=1), ttl=timedelta(minutes=5))
    assert world.gate.check(world.request(artefact, QUESTION, status=status), now=T0).use_number == 1


def test_signed_status_saying_revoked() -> None:
    world = World(status_source=UnreachableRegistry())
    artefact = world.active()
    status = issue_status(artefact.terms.id, Status.REVOKED, world.registry_key, issuer="platform/registry",
                          now=T0, ttl=timedelta(minutes=5))
    refuse(world, world.request(artefact, QUESTION, status=status), RefusalReason.REVOKED)


@pytest.mark.parametrize(
    "case",
    ["expired", "forged", "other_artefact", "too_long_lived", "from_the_future"],
)
def test_bad_signed_status(case: str) -> None:
    world = World(status_source=UnreachableRegistry())
    artefact = world.active()
    key, subject, issued, ttl = world.registry_key, artefact.terms.id, T0 - timedelta(minutes=1), timedelta(minutes=5)
    if case == "expired":
        issued = T0 - timedelta(minutes=6)
    elif case == "forged":
        key = Ed25519PrivateKey.generate()
    elif case == "other_artefact":
        subject = world.active(max_uses=7).terms.id
    elif case == "too_long_lived":
        ttl = timedelta(days=1)
    else:
        issued = T0 + timedelta(minutes=2)
    status = issue_status(subject, Status.ACTIVE, key, issuer="platform/registry", now=issued, ttl=ttl)
    refuse(world, world.request(artefact, QUESTION, status=status), RefusalReason.BAD_STATUS_STATEMENT)


def test_authenticated_refusals_are_logged_unauthenticated_ones_are_not(world: World) -> None:
    from consent.audit.events import EventKind

    artefact = world.active()
    move(world, artefact.terms.id, Status.PAUSED, TransitionReason.ENTERPRISE_PAUSED)
    refuse(world, world.request(artefact, QUESTION), RefusalReason.PAUSED)
    good = world.request(artefact, QUESTION)
    refuse(world, SignedRequest(good.payload, bytes(64), good.artefact), RefusalReason.BAD_REQUEST_SIGNATURE)
    refused = [leaf.event for leaf in world.node_audit.find(kinds=[EventKind.REQUEST_REFUSED])]
    assert [(e.reason_code, e.institution, e.authorisation_id) for e in refused] == [
        ("PAUSED", BANK, artefact.terms.id)
    ]


def test_a_failed_audit_write_rolls_back_the_use(world: World) -> None:
    artefact = world.active()

    class BrokenLog:
        def append(self, conn, event):
            world.node_audit.append(conn, event)
            raise RuntimeError("disk full")

    world.gate._audit = BrokenLog()
    with pytest.raises(RuntimeError):
        world.gate.check(world.request(artefact, QUESTION), now=T0)
    assert world.consumed(artefact.terms.id) == (0, 0, 0)
    assert world.node_audit.tree_size() == 0


def test_raw_detail_is_logged_as_such_and_spends_no_field_check(world: World) -> None:
    from consent.audit.events import EventKind

    artefact = world.active(mode=Mode.QUERY)
    use = world.gate.check(world.request(artefact, RawDetail("tax_paid_2025")), now=T0)
    assert use.field_checks_spent is None
    assert world.consumed(artefact.terms.id) == (1, 0, 1)
    assert world.node_audit.count(kinds=[EventKind.RAW_DETAIL_SERVED]) == 1


def test_malformed_authorisation_id_is_refused_before_anything(world: World) -> None:
    from consent.authorisation.codec import canonical_json
    from consent.authorisation.signatures import Domain, sign

    artefact = world.active()
    body = world.request(artefact, QUESTION).parse().to_json()
    body["authorisation_id"] = "auth-../../etc"
    payload = canonical_json(body)
    request = SignedRequest(payload, sign(world.bank.signing, Domain.REQUEST, payload), artefact)
    refuse(world, request, RefusalReason.MALFORMED_REQUEST)


def test_request_survives_the_wire_and_a_relay_reattaching_status(world: World) -> None:
    artefact = world.active()
    request = world.request(artefact, QUESTION)
    relayed = SignedRequest.from_bytes(request.to_bytes())
    assert relayed == request and relayed.request_id == request.request_id
    status = issue_status(artefact.terms.id, Status.ACTIVE, world.registry_key, issuer="platform/registry",
                          now=T0, ttl=timedelta(minutes=1))
    with_status = SignedRequest.from_bytes(relayed.with_status(status).to_bytes())
    assert world.gate.check(with_status, now=T0).request_id == request.request_id
