"""Status lifecycle: the allowed set, terminal states, and the store that records every transition."""

from __future__ import annotations

import threading
from datetime import timedelta
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.audit.events import EventKind
from consent.authorisation import (
    ALLOWED_TRANSITIONS,
    TERMINAL,
    DuplicateAuthorisation,
    IllegalTransition,
    InvalidTerms,
    StaleStatus,
    Status,
    TransitionReason,
    UnknownAuthorisation,
    check_transition,
)
from tests.consent.test_authorisation_world import CREDIT_CODE, T0, World

ENTERPRISE = "enterprise/" + CREDIT_CODE


def test_allowed_set_is_exactly_the_specified_pairs() -> None:
    S = Status
    assert ALLOWED_TRANSITIONS == {
        (S.PENDING, S.ACTIVE), (S.PENDING, S.REJECTED),
        (S.ACTIVE, S.PAUSED), (S.PAUSED, S.ACTIVE),
        (S.ACTIVE, S.REVOKED), (S.PAUSED, S.REVOKED),
        (S.ACTIVE, S.EXPIRED), (S.PAUSED, S.EXPIRED),
    }
    for source, target in product(Status, Status):
        if (source, target) in ALLOWED_TRANSITIONS:
            check_transition(source, target)
        else:
            with pytest.raises(IllegalTransition):
                check_transition(source, target)


def test_terminal_states_have_no_way_out() -> None:
    assert TERMINAL == {Status.REJECTED, Status.REVOKED, Status.EXPIRED}
    assert not any(source in TERMINAL for source, _ in ALLOWED_TRANSITIONS)


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(list(Status)), st.sampled_from(list(TransitionReason))), max_size=12))
def test_store_never_leaves_a_terminal_state(steps) -> None:
    world = World()
    artefact = world.sign(world.terms())
    auth_id = world.store.register(artefact, actor="platform/registry", now=T0).id
    current, moves = Status.PENDING, 0
    for n, (target, reason) in enumerate(steps):
        now = T0 + timedelta(minutes=n + 1)
        try:
            world.store.transition(auth_id, target, actor=ENTERPRISE, reason=reason, now=now)
        except IllegalTransition:
            assert (current, target) not in ALLOWED_TRANSITIONS
            continue
        assert current not in TERMINAL and (current, target) in ALLOWED_TRANSITIONS
        current, moves = target, moves + 1
        assert world.store.status(auth_id) is current
    history = world.store.history(auth_id)
    assert len(history) == moves + 1
    assert [h.target for h in history][-1] is current
    for earlier, later in zip(history, history[1:], strict=False):
        assert later.source is earlier.target and earlier.target not in TERMINAL
    # Every recorded transition is one audit leaf, written with it.
    log = world.registry_audit
    assert log.count(kinds=[EventKind.AUTHORISATION_STATUS_CHANGED], authorisation_id=auth_id) == moves
    assert log.count(kinds=[EventKind.AUTHORISATION_CREATED], authorisation_id=auth_id) == 1
    leaves = [leaf.event for leaf in log.find(authorisation_id=auth_id)]
    assert [(e.status_from, e.status_to) for e in leaves] == [
        (None if h.source is None else h.source.value, h.target.value) for h in history
    ]


def test_transition_records_actor_reason_and_time() -> None:
    world = World()
    artefact = world.active()
    change = world.store.transition(
        artefact.terms.id, Status.PAUSED, actor="compliance/officer-7", reason=TransitionReason.COMPLIANCE_HOLD,
        now=T0 + timedelta(seconds=5, microseconds=999),
    )
    history = world.store.history(artefact.terms.id)
    assert history[-1] == change
    assert (change.source, change.target, change.actor, change.reason, change.at) == (
        Status.ACTIVE, Status.PAUSED, "compliance/officer-7", TransitionReason.COMPLIANCE_HOLD,
        T0 + timedelta(seconds=5),
    )
    assert [h.target for h in history] == [Status.PENDING, Status.ACTIVE, Status.PAUSED]


def test_illegal_transition_writes_nothing() -> None:
    world = World()
    artefact = world.active()
    world.store.transition(artefact.terms.id, Status.REVOKED, actor=ENTERPRISE,
                           reason=TransitionReason.ENTERPRISE_REVOKED, now=T0)
    before = len(world.store.history(artefact.terms.id))
    with pytest.raises(IllegalTransition):
        world.store.transition(artefact.terms.id, Status.ACTIVE, actor=ENTERPRISE,
                               reason=TransitionReason.ENTERPRISE_RESUMED, now=T0)
    assert len(world.store.history(artefact.terms.id)) == before
    assert world.store.status(artefact.terms.id) is Status.REVOKED


def test_actor_must_be_an_identity() -> None:
    world = World()
    artefact = world.active()
    with pytest.raises(InvalidTerms):
        world.store.transition(artefact.terms.id, Status.PAUSED, actor="someone", reason=TransitionReason.COMPLIANCE_HOLD,
                               now=T0)
    assert world.store.status(artefact.terms.id) is Status.ACTIVE


def test_identical_terms_are_one_artefact() -> None:
    world = World()
    artefact = world.active()
    with pytest.raises(DuplicateAuthorisation):
        world.store.register(artefact, actor="platform/registry", now=T0)


def test_register_refuses_bad_signature_and_future_signing() -> None:
    from consent.authorisation import InvalidSignature, SignedTerms

    world = World()
    artefact = world.sign(world.terms())
    with pytest.raises(InvalidSignature):
        world.store.register(SignedTerms(artefact.payload, bytes(64)), actor="platform/registry", now=T0)
    future = world.sign(world.terms(max_uses=3), signed_at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidTerms, match="future"):
        world.store.register(future, actor="platform/registry", now=T0)
    assert world.store.find() == []


def test_unknown_authorisation() -> None:
    world = World()
    with pytest.raises(UnknownAuthorisation):
        world.store.status("auth-" + "0" * 64)
    with pytest.raises(UnknownAuthorisation):
        world.store.transition("auth-" + "0" * 64, Status.ACTIVE, actor=ENTERPRISE,
                               reason=TransitionReason.IDENTITY_CONFIRMED, now=T0)


def test_expire_due_sweeps_only_ended_windows() -> None:
    world = World()
    short = world.active(not_after=T0 + timedelta(days=1))
    long = world.active(not_after=T0 + timedelta(days=60))
    paused = world.active(not_after=T0 + timedelta(days=2))
    world.store.transition(paused.terms.id, Status.PAUSED, actor=ENTERPRISE,
                           reason=TransitionReason.ENTERPRISE_PAUSED, now=T0)
    expired = world.store.expire_due(actor="platform/registry", now=T0 + timedelta(days=3))
    assert sorted(expired) == sorted([short.terms.id, paused.terms.id])
    assert world.store.status(long.terms.id) is Status.ACTIVE
    assert world.store.history(short.terms.id)[-1].reason is TransitionReason.WINDOW_ENDED


def test_find_filters() -> None:
    world = World()
    one = world.active()
    two = world.active(grantee="bank/cmb-sz")
    assert [r.terms.id for r in world.store.find(grantee="bank/cmb-sz")] == [two.terms.id]
    assert {r.terms.id for r in world.store.find(credit_code=CREDIT_CODE, status=Status.ACTIVE)} == {
        one.terms.id, two.terms.id,
    }
    record = world.store.get(one.terms.id)
    assert record.artefact == one and record.terms == one.terms and record.status is Status.ACTIVE


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_writers_move_a_state_once(tmp_path, request: pytest.FixtureRequest, backend: str) -> None:
    from sqlalchemy import create_engine

    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'registry.db'}"
    world = World(registry_engine=create_engine(url))
    artefact = world.sign(world.terms())
    auth_id = world.store.register(artefact, actor="platform/registry", now=T0).id
    outcomes: list[str] = []

    def activate() -> None:
        try:
            world.store.transition(auth_id, Status.ACTIVE, actor="platform/registry",
                                   reason=TransitionReason.IDENTITY_CONFIRMED, now=T0)
            outcomes.append("moved")
        except (IllegalTransition, StaleStatus):
            outcomes.append("refused")

    threads = [threading.Thread(target=activate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["moved"] + ["refused"] * 5
    assert [h.target for h in world.store.history(auth_id)] == [Status.PENDING, Status.ACTIVE]
