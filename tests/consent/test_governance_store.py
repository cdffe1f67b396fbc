"""The source node's approval store on SQLite and PostgreSQL: life cycle, concurrency, exact quotas."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.audit.storage import open_engine
from consent.governance import (
    ALLOWED_TRANSITIONS,
    TERMINAL,
    ApprovalRefused,
    ApprovalStatus,
    BadApprovalSignature,
    IllegalApprovalTransition,
    InvalidApproval,
    RefusalCode,
    StaleApprovalStatus,
    UnknownApproval,
    sign_approval,
)
from tests.consent.governance_world import T0, World, sqlite_world, terms


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path) -> World:
    if request.param == "postgresql":
        return World(open_engine(request.getfixturevalue("postgres_url")))
    return sqlite_world(tmp_path)


def test_a_request_is_filed_once_and_approved_with_the_units_signature(world: World) -> None:
    filed = world.store.file_request(terms(), actor="admin/operator", now=T0)
    again = world.store.file_request(terms(), actor="admin/operator", now=T0 + timedelta(hours=1))
    assert filed == again and filed.status is ApprovalStatus.REQUESTED and filed.signed is None
    record = world.store.approve(sign_approval(terms(), world.key, signed_at=T0), actor="admin/tax", now=T0)
    assert record.status is ApprovalStatus.APPROVED and record.signed is not None
    assert world.store.used(record.approval_id) == {"rows": 0, "queries": 0}
    assert [(h.source, h.target) for h in world.store.history(record.approval_id)] == [
        (None, ApprovalStatus.REQUESTED), (ApprovalStatus.REQUESTED, ApprovalStatus.APPROVED)]
    assert [r.approval_id for r in world.store.list(project="credit-2026")] == [record.approval_id]
    assert world.store.list(status=ApprovalStatus.REVOKED) == []


def test_a_foreign_signature_or_an_unfiled_request_is_refused(world: World) -> None:
    world.store.file_request(terms(), actor="admin/operator", now=T0)
    with pytest.raises(BadApprovalSignature):
        world.store.approve(sign_approval(terms(), Ed25519PrivateKey.generate(), signed_at=T0), actor="x/y", now=T0)
    with pytest.raises(UnknownApproval):
        world.store.approve(sign_approval(terms(project="never-filed"), world.key, signed_at=T0),
                            actor="admin/tax", now=T0)
    with pytest.raises(InvalidApproval, match="not for this node"):
        world.store.file_request(terms(source="source/court"), actor="admin/operator", now=T0)
    with pytest.raises(InvalidApproval, match="signature"):
        world.store.transition(terms().approval_id, ApprovalStatus.APPROVED, actor="admin/tax", reason="", now=T0)
    assert world.store.get(terms().approval_id).status is ApprovalStatus.REQUESTED


def test_only_allowed_transitions_happen_and_terminal_states_stay(world: World) -> None:
    approval_id = world.approve().approval_id
    world.store.transition(approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="audit", now=T0)
    world.store.transition(approval_id, ApprovalStatus.APPROVED, actor="admin/tax", reason="resumed", now=T0)
    world.store.transition(approval_id, ApprovalStatus.REVOKED, actor="admin/tax", reason="project ended", now=T0)
    for target in ApprovalStatus:
        with pytest.raises(IllegalApprovalTransition):
            world.store.transition(approval_id, target, actor="admin/tax", reason="", now=T0)
    with pytest.raises(UnknownApproval):
        world.store.transition("apv-none", ApprovalStatus.REVOKED, actor="admin/tax", reason="", now=T0)


def test_concurrent_writers_move_a_state_once(world: World) -> None:
    approval_id = world.approve().approval_id
    outcomes: list[str] = []

    def revoke() -> None:
        try:
            world.store.transition(approval_id, ApprovalStatus.REVOKED, actor="admin/tax", reason="", now=T0)
            outcomes.append("moved")
        except (IllegalApprovalTransition, StaleApprovalStatus):
            outcomes.append("refused")

    threads = [threading.Thread(target=revoke) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["moved"] + ["refused"] * 5
    assert [h.target for h in world.store.history(approval_id)][-1] is ApprovalStatus.REVOKED
    assert len(world.store.history(approval_id)) == 3


def test_quota_counting_is_exact_under_concurrency(world: World) -> None:
    approval_id = world.approve().approval_id
    granted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(15):
            try:
                world.store.consume(approval_id, "queries", 7, limit=500)
                outcome = granted
            except ApprovalRefused as exc:
                assert exc.code is RefusalCode.QUOTA_EXCEEDED
                outcome = refused
            with lock:
                outcome.append(7)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(granted) == 497 and len(granted) == 71 and len(refused) == 120 - 71
    assert world.store.used(approval_id)["queries"] == 497
    world.store.release(approval_id, "queries", 97)
    assert world.store.used(approval_id)["queries"] == 400


def test_the_status_listener_hears_every_change(world: World) -> None:
    heard: list[tuple[str, ApprovalStatus]] = []
    world.store.add_listener(lambda approval_id, status: heard.append((approval_id, status)))
    approval_id = world.approve().approval_id
    world.store.transition(approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="", now=T0)
    assert heard == [(approval_id, ApprovalStatus.APPROVED), (approval_id, ApprovalStatus.SUSPENDED)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(list(ApprovalStatus)), max_size=8))
def test_any_sequence_of_requests_follows_the_allowed_set(tmp_path_factory, targets) -> None:
    world = sqlite_world(tmp_path_factory.mktemp("gov"))
    approval_id = world.store.file_request(terms(), actor="admin/operator", now=T0).approval_id
    current = ApprovalStatus.REQUESTED
    for target in targets:
        try:
            if current is ApprovalStatus.REQUESTED and target is ApprovalStatus.APPROVED:
                world.store.approve(sign_approval(terms(), world.key, signed_at=T0), actor="admin/tax", now=T0)
            else:
                world.store.transition(approval_id, target, actor="admin/tax", reason="", now=T0)
        except (IllegalApprovalTransition, InvalidApproval):
            assert (current, target) not in ALLOWED_TRANSITIONS or current in TERMINAL
            continue
        assert (current, target) in ALLOWED_TRANSITIONS and current not in TERMINAL
        current = target
        assert world.store.get(approval_id).status is current
    history = world.store.history(approval_id)
    assert all((h.source, h.target) in ALLOWED_TRANSITIONS for h in history[1:])
