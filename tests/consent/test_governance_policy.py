"""`ApprovalPolicy.check`: every refusal code, the items a task may load, rechecks between rounds, and the
cached answer gate with its leased quota."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from consent.canonical_json import canonical_json
from consent.governance import (
    AnswerGate,
    ApprovalRefused,
    ApprovalStatus,
    Quotas,
    RefusalCode,
    Serving,
    SharingCondition,
    Task,
    TaskKind,
    sign_approval,
    usable_items,
)
from consent.governance.schema import approvals
from tests.consent.governance_world import CATALOGUE, PLATFORM, T0, World, sqlite_world, terms

TRAIN = Task(TaskKind.TRAIN, leader=PLATFORM, algorithm="secureboost", project="credit-2026",
             counterparties=("source/social_insurance",), key_bits=2048, rows=100)
SCORE = Task(TaskKind.SCORE, leader=PLATFORM, algorithm="secureboost", approval_id=None, key_bits=2048,
             items=("revenue",), queries=1, institution="bank/icbc-sz", institution_kind="bank")


@pytest.fixture
def world(tmp_path) -> World:
    return sqlite_world(tmp_path)


def refused(world: World, task: Task, now=None) -> RefusalCode:
    with pytest.raises(ApprovalRefused) as caught:
        world.policy.check(task, now=now)
    return caught.value.code


def test_an_approved_task_gets_only_the_items_it_may_load(world: World) -> None:
    world.approve()
    approval = world.policy.check(TRAIN)
    assert approval.approval_id == terms().approval_id
    # conditional and approved, plus the unconditional item; never the not_shared or unapproved ones.
    assert set(approval.items) == {"revenue", "vat_paid", "a_level"}
    assert world.store.used(approval.approval_id)["rows"] == 100


def test_every_refusal_code(world: World) -> None:
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_MISSING
    record = world.approve()
    assert refused(world, replace(TRAIN, leader="source/social_insurance")) is RefusalCode.LEADER_NOT_APPROVED
    assert refused(world, replace(TRAIN, leader="platform/other")) is RefusalCode.LEADER_NOT_APPROVED
    assert refused(world, replace(TRAIN, project="other")) is RefusalCode.APPROVAL_MISSING
    assert refused(world, replace(TRAIN, items=("revenue", "arrears_months"))) is RefusalCode.ITEM_NOT_APPROVED
    assert refused(world, replace(TRAIN, items=("owner_id_hash",))) is RefusalCode.ITEM_NOT_SHARED
    assert refused(world, replace(TRAIN, items=("not_a_column",))) is RefusalCode.ITEM_NOT_SHARED
    assert refused(world, replace(TRAIN, counterparties=("source/customs",))) is RefusalCode.COUNTERPARTY_NOT_APPROVED
    assert refused(world, replace(TRAIN, algorithm="hetero_lr")) is RefusalCode.ALGORITHM_NOT_APPROVED
    assert refused(world, replace(TRAIN, key_bits=1024)) is RefusalCode.ALGORITHM_NOT_APPROVED
    assert refused(world, TRAIN, now=T0 + timedelta(days=90)) is RefusalCode.APPROVAL_EXPIRED
    assert refused(world, TRAIN, now=T0 - timedelta(seconds=1)) is RefusalCode.APPROVAL_EXPIRED
    assert refused(world, replace(TRAIN, rows=1_000_001)) is RefusalCode.QUOTA_EXCEEDED
    score = replace(SCORE, approval_id=record.approval_id)
    assert refused(world, replace(score, institution="bank/other")) is RefusalCode.COUNTERPARTY_NOT_APPROVED
    world.store.transition(record.approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="", now=T0)
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_REVOKED
    world.store.transition(record.approval_id, ApprovalStatus.REVOKED, actor="admin/tax", reason="", now=T0)
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_REVOKED
    assert refused(world, score) is RefusalCode.APPROVAL_REVOKED
    # A refusal counts nothing.
    assert world.store.used(record.approval_id) == {"rows": 0, "queries": 0}


def test_a_declined_or_pending_request_is_no_approval(world: World) -> None:
    filed = world.store.file_request(terms(), actor="admin/operator", now=T0)
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_MISSING
    world.store.transition(filed.approval_id, ApprovalStatus.DECLINED, actor="admin/tax", reason="no", now=T0)
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_MISSING


def test_online_answers_need_serving_and_a_named_institution(world: World) -> None:
    record = world.approve(terms(serving=Serving(online=False, institution_kinds=("bank",))))
    score = replace(SCORE, approval_id=record.approval_id)
    assert refused(world, score) is RefusalCode.COUNTERPARTY_NOT_APPROVED
    verify = replace(score, kind=TaskKind.VERIFY, algorithm="verification", key_bits=0)
    assert refused(world, verify) is RefusalCode.ALGORITHM_NOT_APPROVED
    other = world.approve(terms(project="verify-2026", serving=Serving(online=True, institution_kinds=("bank",)),
                                algorithms={"verification": 0, "secureboost": 2048}))
    assert world.policy.check(replace(score, approval_id=other.approval_id)).items == ("revenue",)
    assert world.policy.check(replace(verify, approval_id=other.approval_id, institution="bank/any"))
    assert refused(world, replace(score, approval_id=other.approval_id, institution_kind="insurer")) \
        is RefusalCode.COUNTERPARTY_NOT_APPROVED


def test_a_tampered_or_foreign_signed_approval_is_no_approval(world: World) -> None:
    record = world.approve()
    widened = terms(quotas=Quotas(rows=10**12, queries=10**12))
    with world.engine.begin() as conn:  # someone with write access to the node's database widens the quota
        conn.execute(update(approvals).where(approvals.c.approval_id == record.approval_id)
                     .values(payload=record.signed.payload.replace(b'"rows":1000000', b'"rows":9000000')))
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_MISSING
    foreign = sign_approval(widened, Ed25519PrivateKey.generate(), signed_at=T0)
    with world.engine.begin() as conn:
        conn.execute(update(approvals).where(approvals.c.approval_id == record.approval_id)
                     .values(payload=foreign.payload, signature=foreign.signature,
                             terms=canonical_json(widened.to_json())))
    assert refused(world, TRAIN) is RefusalCode.APPROVAL_MISSING


def test_recheck_between_rounds_sees_a_revocation_at_once(world: World) -> None:
    world.approve()
    approval = world.policy.check(TRAIN)
    world.policy.recheck(approval)
    with pytest.raises(ApprovalRefused) as caught:
        world.policy.recheck(approval, now=T0 + timedelta(days=91))
    assert caught.value.code is RefusalCode.APPROVAL_EXPIRED
    world.store.transition(approval.approval_id, ApprovalStatus.REVOKED, actor="admin/tax", reason="", now=T0)
    with pytest.raises(ApprovalRefused) as caught:
        world.policy.recheck(approval)
    assert caught.value.code is RefusalCode.APPROVAL_REVOKED


def test_the_answer_gate_caches_until_a_status_change(world: World) -> None:
    record = world.approve()
    gate = AnswerGate(world.policy, block=10, clock=lambda: T0)
    score = replace(SCORE, approval_id=record.approval_id)
    assert gate.admit(score).approval_id == record.approval_id
    assert world.store.used(record.approval_id)["queries"] == 10  # one block in hand
    for _ in range(9):
        gate.admit(score)
    world.store.transition(record.approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="", now=T0)
    with pytest.raises(ApprovalRefused) as caught:
        gate.admit(score)
    assert caught.value.code is RefusalCode.APPROVAL_REVOKED
    world.store.transition(record.approval_id, ApprovalStatus.APPROVED, actor="admin/tax", reason="", now=T0)
    gate.admit(score)
    with pytest.raises(ApprovalRefused) as caught:
        gate.admit(score, now=T0 + timedelta(days=90))
    assert caught.value.code is RefusalCode.APPROVAL_EXPIRED
    gate.close()
    assert world.store.used(record.approval_id)["queries"] == 11


def test_the_answer_gate_never_answers_past_the_quota_under_concurrency(world: World) -> None:
    record = world.approve(terms(quotas=Quotas(rows=0, queries=1_003)))
    gate = AnswerGate(world.policy, block=64, clock=lambda: T0)
    score = replace(SCORE, approval_id=record.approval_id)
    answered, refusals = [], []

    def ask() -> None:
        for _ in range(80):
            try:
                gate.admit(score)
                answered.append(1)
            except ApprovalRefused as exc:
                assert exc.code is RefusalCode.QUOTA_EXCEEDED
                refusals.append(1)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answered) == 1_003 and len(refusals) == 16 * 80 - 1_003
    gate.close()
    assert world.store.used(record.approval_id)["queries"] == 1_003


_items = st.lists(st.sampled_from(["revenue", "vat_paid", "arrears_months", "a_level", "owner_id_hash", "x"]),
                  max_size=6, unique=True)


@settings(max_examples=80, deadline=None)
@given(approved=_items, asked=st.one_of(st.none(), _items))
def test_a_task_never_loads_a_not_shared_or_unapproved_conditional_item(approved, asked) -> None:
    approval_terms = terms(items=tuple(approved))
    try:
        items = usable_items(approval_terms, CATALOGUE, asked)
    except ApprovalRefused as exc:
        assert asked is not None and exc.code in (RefusalCode.ITEM_NOT_SHARED, RefusalCode.ITEM_NOT_APPROVED)
        return
    for name in items:
        condition = CATALOGUE.condition_of(name)
        assert condition is not SharingCondition.NOT_SHARED
        assert condition is SharingCondition.UNCONDITIONAL or name in approved
