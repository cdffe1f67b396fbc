"""The coordinator's governance records on SQLite and PostgreSQL: the versioned city-wide list, expansion
requests and the approval directory, each step a leaf of the governance log."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit import AuditEvent, AuditLog, EventKind
from consent.audit.storage import open_engine
from consent.governance import (
    ApprovalStatus,
    BadApprovalSignature,
    CatalogueError,
    CityCatalogue,
    IllegalApprovalTransition,
    InvalidApproval,
    sign_approval,
)
from consent.governance.catalogue import Catalogue
from consent.governance.catalogue_history import CatalogueHistory
from consent.governance.directory import ApprovalDirectory
from consent.governance.expansion import ExpansionBook, ExpansionStatus
from tests.consent.governance_world import CATALOGUE, T0, item, terms


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'c.db'}"
    return open_engine(url)


@pytest.fixture
def log(engine) -> AuditLog:
    audit = AuditLog(engine, prefix="governance")
    audit.create_schema()
    return audit


def kinds(log: AuditLog) -> list[str]:
    return [AuditEvent.from_leaf(leaf.leaf).kind.value for leaf in log.leaves()]


def test_the_city_list_gets_a_version_per_change_only(engine, log: AuditLog) -> None:
    history = CatalogueHistory(engine, audit=log.append)
    history.create_schema()
    assert history.get() is None
    first, new = history.update(lambda city: city.with_source(CATALOGUE), actor="source/tax", cause="register", now=T0)
    assert (first.version, new) == (1, True)
    same, new = history.update(lambda city: city.with_source(CATALOGUE), actor="source/tax", cause="again", now=T0)
    assert (same.version, new) == (1, False)
    court = Catalogue("source/court", (item("cases", "unconditional", category="COURT_ENFORCEMENT",
                                             sensitivity="PUBLIC"),))
    second, _ = history.update(lambda city: city.with_source(court), actor="source/court", cause="register", now=T0)
    assert second.version == 2 and history.get(1).catalogue == CityCatalogue((CATALOGUE,))
    assert [v for v, *_ in history.versions()] == [1, 2] and history.get(3) is None
    assert kinds(log) == ["catalogue_published", "catalogue_published"]


def test_concurrent_registrations_each_land_on_a_version(engine, log: AuditLog) -> None:
    history = CatalogueHistory(engine, audit=log.append)
    history.create_schema()
    units = [Catalogue(f"source/u{k}", (item("x", "conditional"),)) for k in range(6)]
    threads = [threading.Thread(target=history.update, args=(lambda city, c=c: city.with_source(c),),
                                kwargs={"actor": c.source, "cause": "register", "now": T0}) for c in units]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    latest = history.get()
    assert latest.version == 6 and {c.source for c in latest.catalogue.catalogues} == {c.source for c in units}


def test_an_expansion_is_filed_then_decided_once_by_its_unit(engine, log: AuditLog) -> None:
    book = ExpansionBook(engine, audit=log.append)
    book.create_schema()
    filed = book.file(source="source/tax", item="invoice_count_monthly", category="TAX",
                      description="Invoices issued per month", reason="seasonality of sales",
                      intended_use="pre-loan review model", requested_by="bank/icbc-sz", now=T0)
    assert filed.status is ExpansionStatus.FILED and book.list(source="source/tax") == [filed]
    with pytest.raises(CatalogueError, match="not source/court"):
        book.decide(filed.request_id, source="source/court", accept=True, reason="x", condition="conditional",
                    now=T0)
    accepted = book.decide(filed.request_id, source="source/tax", accept=True, reason="fine",
                           condition="conditional", now=T0 + timedelta(days=1))
    assert accepted.status is ExpansionStatus.ACCEPTED and accepted.condition == "conditional"
    with pytest.raises(IllegalApprovalTransition):
        book.decide(filed.request_id, source="source/tax", accept=False, reason="changed my mind", now=T0)
    other = book.file(source="source/tax", item="x", category="TAX", description="d", reason="r",
                      intended_use="u", requested_by="admin/operator", now=T0)
    assert book.decide(other.request_id, source="source/tax", accept=False, reason="personal data",
                       now=T0).status is ExpansionStatus.DECLINED
    assert kinds(log) == ["catalogue_expansion_filed", "catalogue_expansion_decided", "catalogue_expansion_filed",
                          "catalogue_expansion_decided"]
    for bad in ({"category": "WEATHER"}, {"item": "bad item"}, {"source": "bank/x"}, {"reason": ""}):
        values = dict(source="source/tax", item="x", category="TAX", description="d", reason="r",
                      intended_use="u", requested_by="admin/operator") | bad
        with pytest.raises(CatalogueError):
            book.file(now=T0, **values)


def test_the_directory_mirrors_what_the_unit_reports(engine, log: AuditLog) -> None:
    directory = ApprovalDirectory(engine, audit=log.append)
    directory.create_schema()
    key = Ed25519PrivateKey.generate()
    entry = directory.file(terms(), filed_by="admin/operator", now=T0)
    assert entry.status is ApprovalStatus.REQUESTED and directory.file(terms(), filed_by="x/y", now=T0) == entry
    signed = sign_approval(terms(), key, signed_at=T0)
    with pytest.raises(InvalidApproval, match="not source/court"):
        directory.report(entry.approval_id, ApprovalStatus.APPROVED, source="source/court", reason="", now=T0)
    with pytest.raises(BadApprovalSignature):
        directory.report(entry.approval_id, ApprovalStatus.APPROVED, source="source/tax", reason="", now=T0,
                         signed=signed, approval_key=Ed25519PrivateKey.generate().public_key())
    approved = directory.report(entry.approval_id, ApprovalStatus.APPROVED, source="source/tax", reason="ok",
                                now=T0, signed=signed, approval_key=key.public_key())
    assert approved.status is ApprovalStatus.APPROVED and approved.signed == signed
    directory.report(entry.approval_id, ApprovalStatus.REVOKED, source="source/tax", reason="ended", now=T0)
    assert [e.status for e in directory.list(source="source/tax")] == [ApprovalStatus.REVOKED]
    assert kinds(log) == ["approval_filed", "approval_status_changed", "approval_status_changed"]
    leaf = AuditEvent.from_leaf(list(log.leaves())[-1].leaf)
    assert leaf.kind is EventKind.APPROVAL_STATUS_CHANGED and leaf.approval_id == entry.approval_id
