"""Cross-check of a source node's local use log against the registry's log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    EventKind,
    LocalUseLog,
    MissingUsesError,
    cross_check,
    open_engine,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def use_event(n: int, unit: str = "source/tax", institution: str = "bank/icbc-sz") -> AuditEvent:
    return AuditEvent(
        kind=EventKind.VERIFICATION_ANSWERED, occurred_at=T0 + timedelta(seconds=n),
        authorisation_id="auth-1", use_id=f"use-{n}", institution=institution, source_unit=unit,
    )


@pytest.fixture
def logs(tmp_path: Path) -> tuple[AuditLog, LocalUseLog]:
    """The registry's log (platform database) and the tax node's local log (its own database)."""
    registry = AuditLog(open_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    registry.create_schema()
    local = LocalUseLog(open_engine(f"sqlite:///{tmp_path / 'source-tax.db'}"))
    local.create_schema()
    return registry, local


def answer(registry: AuditLog, local: LocalUseLog, event: AuditEvent, *, relayed: bool = True) -> None:
    with local.log.engine.begin() as conn:
        local.record(conn, event)
    if relayed:
        with registry.engine.begin() as conn:
            registry.append(conn, event)


def test_complete_registry_passes_and_is_proven_under_a_checkpoint(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    for n in range(12):
        answer(registry, local, use_event(n))
    head = registry.tree_head()
    answer(registry, local, use_event(12))  # newer than the checkpoint
    report = cross_check(registry, local.entries(), checkpoint=Checkpoint("o", head.size, head.root),
                         source_unit="source/tax")
    assert report.complete and report.checked == 13
    assert len(report.matched) == 12 and [e.use_id for e, _ in report.pending] == ["use-12"]
    assert report.unexpected == ()
    report.raise_for_gaps()


def test_a_use_the_registry_never_logged_is_found(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    for n in range(10):
        answer(registry, local, use_event(n), relayed=n != 4)
    report = cross_check(registry, local.entries())
    assert [event.use_id for event in report.missing] == ["use-4"]
    with pytest.raises(MissingUsesError) as gaps:
        report.raise_for_gaps()
    assert gaps.value.missing == 1


def test_a_use_deleted_from_the_registry_is_found_and_cannot_be_proven(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    for n in range(10):
        answer(registry, local, use_event(n))
    head = registry.tree_head()
    with registry.engine.begin() as conn:
        conn.execute(delete(registry.tables.leaf).where(registry.tables.leaf.c.use_id == "use-7"))
    report = cross_check(registry, local.entries(), checkpoint=Checkpoint("o", head.size, head.root))
    assert [event.use_id for event in report.missing] == ["use-7"] and not report.complete


def test_an_altered_use_is_reported_with_the_registry_version(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    answer(registry, local, use_event(1))
    genuine = use_event(2)
    with local.log.engine.begin() as conn:
        local.record(conn, genuine)
    with registry.engine.begin() as conn:  # the platform logs the use under another institution
        registry.append(conn, use_event(2, institution="bank/other"))
    report = cross_check(registry, local.entries())
    assert len(report.altered) == 1
    mine, theirs = report.altered[0]
    assert mine == genuine and theirs[0].institution == "bank/other"


def test_a_registry_that_cannot_prove_inclusion_is_reported(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    for n in range(6):
        answer(registry, local, use_event(n))
    wrong = Checkpoint("o", 6, bytes(32))  # a checkpoint the registry's tree does not match
    report = cross_check(registry, local.entries(), checkpoint=wrong)
    assert len(report.unproven) == 6 and not report.complete


def test_uses_the_source_never_answered_are_flagged(logs: tuple[AuditLog, LocalUseLog]) -> None:
    registry, local = logs
    answer(registry, local, use_event(1))
    with registry.engine.begin() as conn:  # attributed to source/tax but never answered by it
        registry.append(conn, use_event(99))
        registry.append(conn, use_event(98, unit="source/social"))
    report = cross_check(registry, local.entries(), source_unit="source/tax")
    assert report.complete and [event.use_id for event in report.unexpected] == ["use-99"]
