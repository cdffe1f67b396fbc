"""Invariants of the gate (hypothesis): no use outside ACTIVE or outside the window; a use counter always
equals the number of its audit leaves; budgets are never exceeded, also under concurrent requests."""

from __future__ import annotations

import threading
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from consent.audit.events import EventKind
from consent.authorisation import (
    AuthorisationRefused,
    GatePolicy,
    IllegalTransition,
    RefusalReason,
    SignedRequest,
    Status,
    TransitionReason,
    parse_predicate,
)
from tests.consent.test_authorisation_world import CREDIT_CODE, T0, World

ENTERPRISE = "enterprise/" + CREDIT_CODE
PATHS = {
    Status.PENDING: [],
    Status.ACTIVE: [Status.ACTIVE],
    Status.REJECTED: [Status.REJECTED],
    Status.PAUSED: [Status.ACTIVE, Status.PAUSED],
    Status.REVOKED: [Status.ACTIVE, Status.REVOKED],
    Status.EXPIRED: [Status.ACTIVE, Status.PAUSED, Status.EXPIRED],
}


@settings(max_examples=40, deadline=None)
@given(
    status=st.sampled_from(list(Status)),
    offset_hours=st.integers(min_value=-72, max_value=24 * 12),
)
def test_no_use_outside_active_or_outside_the_window(status: Status, offset_hours: int) -> None:
    world = World()
    not_before, not_after = T0, T0 + timedelta(days=10)
    artefact = world.sign(world.terms(not_before=not_before, not_after=not_after), signed_at=T0 - timedelta(hours=80))
    auth_id = world.store.register(artefact, actor="platform/registry", now=T0 - timedelta(hours=79)).id
    for target in PATHS[status]:
        world.store.transition(auth_id, target, actor=ENTERPRISE, reason=TransitionReason.COMPLIANCE_HOLD,
                               now=T0 - timedelta(hours=78))
    now = T0 + timedelta(hours=offset_hours)
    allowed = status is Status.ACTIVE and not_before <= now < not_after
    request = world.request(artefact, parse_predicate("tax_paid_2025 >= 1"), now=now)
    try:
        world.gate.check(request, now=now)
        answered = True
    except AuthorisationRefused as refusal:
        answered = False
        assert refusal.reason in {
            RefusalReason.NOT_ACTIVE, RefusalReason.PAUSED, RefusalReason.REVOKED, RefusalReason.EXPIRED,
            RefusalReason.NOT_YET_VALID,
        }
    assert answered is allowed
    assert world.consumed(auth_id) == ((1, 1, 1) if allowed else (0, 0, 0))


ACTIONS = st.sampled_from(["ask", "ask_other_field", "replay", "forge", "pause", "resume", "late"])


@settings(max_examples=30, deadline=None)
@given(actions=st.lists(ACTIONS, min_size=1, max_size=25), max_uses=st.integers(1, 8), k=st.integers(1, 4))
def test_use_counter_equals_audit_leaves(actions: list[str], max_uses: int, k: int) -> None:
    world = World(policy=GatePolicy(checks_per_field=k))
    artefact = world.active(max_uses=max_uses)
    auth_id = artefact.terms.id
    last: SignedRequest | None = None
    now = T0
    for action in actions:
        now += timedelta(seconds=1)
        request = None
        if action == "ask":
            request = last = world.request(artefact, parse_predicate("tax_paid_2025 >= 1000000"), now=now)
        elif action == "ask_other_field":
            request = last = world.request(artefact, parse_predicate("tax_paid_2024 >= 1"), now=now)
        elif action == "replay" and last is not None:
            request = last
        elif action == "forge":
            good = world.request(artefact, parse_predicate("tax_paid_2025 >= 1"), now=now)
            request = SignedRequest(good.payload, bytes(64), good.artefact)
        elif action in ("pause", "resume"):
            target = Status.PAUSED if action == "pause" else Status.ACTIVE
            try:
                world.store.transition(auth_id, target, actor=ENTERPRISE, reason=TransitionReason.COMPLIANCE_HOLD,
                                       now=now)
            except IllegalTransition:
                pass
        elif action == "late":
            request = world.request(artefact, parse_predicate("tax_paid_2025 >= 1"), now=now - timedelta(hours=1))
        if request is not None:
            try:
                world.gate.check(request, now=now)
            except AuthorisationRefused:
                pass
        uses, spent, leaves = world.consumed(auth_id)
        assert uses == leaves == world.node_audit.count(kinds=[EventKind.VERIFICATION_ANSWERED])
        assert uses <= max_uses and spent <= k
        assert uses == spent + world.gate.ledger.field_spent(auth_id, "tax_paid_2024")


def test_concurrent_requests_never_overspend(tmp_path) -> None:
    world = World(node_engine=create_engine(f"sqlite:///{tmp_path / 'node.db'}"))
    artefact = world.active(max_uses=5)
    requests = [world.request(artefact, parse_predicate(f"tax_paid_2024 >= {n}")) for n in range(12)]
    outcomes: list[object] = []
    lock = threading.Lock()

    def ask(request: SignedRequest) -> None:
        try:
            result: object = world.gate.check(request, now=T0).use_number
        except AuthorisationRefused as refusal:
            result = refusal.reason
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=ask, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    numbers = sorted(o for o in outcomes if isinstance(o, int))
    assert numbers == [1, 2, 3, 4, 5]
    assert outcomes.count(RefusalReason.BUDGET_EXHAUSTED) == 7
    assert world.consumed(artefact.terms.id, "tax_paid_2024") == (5, 5, 5)
