"""The coordinator's governance desk: the approval directory, the versioned city-wide catalogue and expansion
requests, every step an event forwarded to the platform's one audit log (`governance_forwarding`); and the gRPC
methods that serve them.

The desk decides nothing about data use: each source node decides on its own store and reports. The desk
records, so that the operator and the platform see statuses, and every unit sees the list and its requests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, text

from consent.audit.storage import open_engine
from consent.canonical_json import canonical_json
from consent.governance import (
    ApprovalStatus,
    ApprovalTerms,
    Catalogue,
    CatalogueItem,
    GovernanceError,
    SignedApproval,
    UnknownApproval,
)
from consent.governance.catalogue_history import CatalogueHistory
from consent.governance.directory import ApprovalDirectory, DirectoryEntry
from consent.governance.expansion import ExpansionBook, ExpansionRequest, ExpansionStatus
from consent.governance.outbox import GovernanceOutbox
from consent.governance.usage_lines import UsageError
from coordinator.governance_forwarding import GovernanceForwarder, PlatformLog
from coordinator.governance_usage import UsageDesk
from coordinator.registry import NodeRegistry
from errors import ConfigurationError, Conflict, InvalidInput, NotFound, Refused, XydError
from federation.pki import NodeTls
from federation.proto import control_pb2
from federation.server import peer_identity

log = logging.getLogger("xyd.coordinator.governance")


def utc_now() -> datetime:
    return datetime.now(UTC)


MIGRATION_HINT = ("this coordinator's database holds a governance log of its own; governance events now go to the "
                  "platform's one log: stop both and run `xyd platform merge-governance-log` first (OPERATIONS.md, "
                  "'One audit log')")


def refuse_unmerged_governance_log(engine: Engine) -> None:
    """Refuse a database whose former governance log (tables `governance_*`) holds leaves not yet merged into the
    platform's one log (the migration fills the outbox with them)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "governance_head"):
            return
        size = conn.execute(text("SELECT tree_size FROM governance_head")).scalar() or 0
        merged = engine.dialect.has_table(conn, "gov_outbox") and conn.execute(
            text("SELECT COUNT(*) FROM gov_outbox")).scalar_one() >= size
    if size and not merged:
        raise ConfigurationError(MIGRATION_HINT)


def catalogue_of(party: str, description: control_pb2.NodeDescription) -> Catalogue:
    """A registering unit's catalogue from its description (raises `GovernanceError` if malformed)."""
    return Catalogue(party, tuple(CatalogueItem.from_json({
        "name": i.name, "category": i.category, "description": i.description, "unit": i.unit,
        "update_frequency": i.update_frequency, "sensitivity": i.sensitivity, "condition": i.condition})
        for i in description.catalogue))


class GovernanceDesk:
    """The records, on the coordinator's database (SQLite via `open_engine`, or any SQLAlchemy URL)."""

    def __init__(self, url: str, registry: NodeRegistry, *, clock: Callable[[], datetime] = utc_now,
                 tls: NodeTls | None = None) -> None:
        self.engine = open_engine(url)
        refuse_unmerged_governance_log(self.engine)
        self.outbox = GovernanceOutbox(self.engine)
        self.outbox.create_schema()
        self.directory = ApprovalDirectory(self.engine, audit=self.outbox.append)
        self.history = CatalogueHistory(self.engine, audit=self.outbox.append)
        self.expansions = ExpansionBook(self.engine, audit=self.outbox.append)
        for store in (self.directory, self.history, self.expansions):
            store.create_schema()
        # Without a certificate (tests of the desk alone) the events wait in the outbox.
        self.platform = PlatformLog(tls, registry) if tls is not None else None
        self.forwarder = GovernanceForwarder(self.outbox, self.platform.append) if self.platform else None
        self.usage = UsageDesk(self.engine, self.outbox, forwarder=self.forwarder, platform=self.platform)
        self.registry = registry
        self.clock = clock

    @classmethod
    def at(cls, state_dir: Path, registry: NodeRegistry, tls: NodeTls | None = None) -> GovernanceDesk:
        """The desk on the coordinator's database."""
        return cls(f"sqlite:///{state_dir / 'coordinator.db'}", registry, tls=tls)

    def start(self) -> None:
        """Start forwarding events to the platform's log (if this desk reaches the platform)."""
        if self.forwarder is not None:
            self.forwarder.start()

    def recorded(self) -> None:
        """Something was recorded: forward it now rather than at the next tick."""
        if self.forwarder is not None:
            self.forwarder.wake()

    def close(self) -> None:
        if self.forwarder is not None:
            self.forwarder.stop()
        if self.platform is not None:
            self.platform.close()

    def stage_done(self, job_id: str, stage: str, results: dict) -> None:
        """A stage succeeded: each source's usage line (what it ran under which approval) goes to the log."""
        try:
            self.usage.record_stage(job_id, stage, results, now=self.clock())
        except Exception:  # the job's outcome does not depend on the log; the node keeps its own record
            log.exception("usage lines of a stage not recorded", extra={"job": job_id, "stage": stage})
        self.recorded()

    def registered(self, party: str, description: control_pb2.NodeDescription) -> None:
        """A source unit (re-)registered: its catalogue enters the city-wide list (a new version if changed)."""
        if not party.startswith("source/"):
            return
        catalogue = catalogue_of(party, description)
        version, new = self.history.update(lambda city: city.with_source(catalogue), actor=party,
                                           cause=f"{party} registered", now=self.clock())
        if new:
            log.info("catalogue version published", extra={"version": version.version, "source": party})
            self.recorded()

    def approval_key(self, source: str) -> Ed25519PublicKey | None:
        """The unit's approval key as its node registered it, if any."""
        for node in self.registry.all():
            if node.party == source and len(node.description.approval_key) == 32:
                return Ed25519PublicKey.from_public_bytes(node.description.approval_key)
        return None


def approval_info(entry: DirectoryEntry) -> control_pb2.ApprovalInfo:
    return control_pb2.ApprovalInfo(
        approval_id=entry.approval_id, source=entry.source, project=entry.project, status=entry.status.value,
        reason=entry.reason, terms_json=canonical_json(entry.terms.to_json()).decode(),
        signed_json="" if entry.signed is None else json.dumps(entry.signed.to_json(), sort_keys=True),
        filed_by=entry.filed_by, updated_at=entry.updated_at.timestamp())


def expansion_info(request: ExpansionRequest) -> control_pb2.ExpansionInfo:
    return control_pb2.ExpansionInfo(
        request_id=request.request_id, source=request.source, item=request.item, category=request.category,
        description=request.description, reason=request.reason, intended_use=request.intended_use,
        requested_by=request.requested_by, status=request.status.value, decision_reason=request.decision_reason,
        condition=request.condition, filed_at=request.filed_at.timestamp())


class GovernanceMethods:
    """The governance RPCs of the coordinator's servicer (mixed into `CoordinatorServicer`)."""

    governance: GovernanceDesk

    def _caller(self, context: grpc.ServicerContext, roles: set[str]) -> str:
        identity = peer_identity(context)
        if identity.role not in roles:
            raise Refused(f"{identity.party} may not call this method (needs role {sorted(roles)})")
        return identity.party

    @staticmethod
    def _refuse(context: grpc.ServicerContext, exc: Exception) -> NoReturn:
        """A catalogue error as it is; anything else (a malformed enum or JSON) as invalid input, without
        repeating what was sent."""
        if isinstance(exc, XydError):
            raise exc
        raise InvalidInput(str(exc), public="the request is malformed") from exc

    def FileApproval(self, request: control_pb2.ApprovalFiling, context: grpc.ServicerContext
                     ) -> control_pb2.ApprovalInfo:
        caller = self._caller(context, {"admin"})
        try:
            terms = ApprovalTerms.from_json(json.loads(request.terms_json))
        except (GovernanceError, ValueError) as exc:
            self._refuse(context, exc)
        entry = self.governance.directory.file(terms, filed_by=caller, now=self.governance.clock())
        self.governance.recorded()
        log.info("approval request filed", extra={"approval": entry.approval_id, "source": entry.source,
                                                  "by": caller})
        return approval_info(entry)

    def ListApprovals(self, request: control_pb2.ApprovalQuery, context: grpc.ServicerContext
                      ) -> control_pb2.ApprovalList:
        caller = self._caller(context, {"admin", "platform", "source"})
        source = caller if caller.startswith("source/") else request.source or None
        try:
            entries = self.governance.directory.list(source=source, project=request.project or None,
                                                     status=ApprovalStatus(request.status) if request.status else None)
        except ValueError as exc:
            self._refuse(context, exc)
        return control_pb2.ApprovalList(approvals=[approval_info(e) for e in entries])

    def ReportApproval(self, request: control_pb2.ApprovalReport, context: grpc.ServicerContext
                       ) -> control_pb2.ApprovalInfo:
        caller = self._caller(context, {"source"})
        try:
            signed = SignedApproval.from_json(json.loads(request.signed_json)) if request.signed_json else None
            entry = self.governance.directory.report(
                request.approval_id, ApprovalStatus(request.status), source=caller, reason=request.reason,
                now=self.governance.clock(), signed=signed, approval_key=self.governance.approval_key(caller))
        except UnknownApproval:
            raise NotFound(f"no approval {request.approval_id} was filed", public="no such approval was filed") from None
        except (GovernanceError, ValueError) as exc:
            self._refuse(context, exc)
        self.governance.recorded()
        log.info("approval status reported", extra={"approval": entry.approval_id, "source": caller,
                                                    "status": entry.status.value})
        return approval_info(entry)

    def GetCatalogue(self, request: control_pb2.CatalogueQuery, context: grpc.ServicerContext
                     ) -> control_pb2.CatalogueVersion:
        self._caller(context, {"admin", "platform", "source"})
        history = self.governance.history
        found = history.get(request.version or None)
        latest = history.get()
        if found is None:
            if request.version:
                raise NotFound(f"no catalogue version {request.version}")
            return control_pb2.CatalogueVersion(catalogue_json='{"sources":[]}')
        return control_pb2.CatalogueVersion(
            version=found.version, catalogue_json=canonical_json(found.catalogue.to_json()).decode(),
            sha256=found.sha256, cause=found.cause, created_at=found.created_at.timestamp(),
            latest=latest.version if latest is not None else found.version)

    def FileExpansion(self, request: control_pb2.ExpansionFiling, context: grpc.ServicerContext
                      ) -> control_pb2.ExpansionInfo:
        caller = self._caller(context, {"admin", "platform"})
        # The platform files for the institution that asked through its API; anyone else files as itself.
        requested_by = request.requested_for if caller.startswith("platform/") and request.requested_for else caller
        try:
            filed = self.governance.expansions.file(
                source=request.source, item=request.item, category=request.category,
                description=request.description, reason=request.reason, intended_use=request.intended_use,
                requested_by=requested_by, now=self.governance.clock())
        except GovernanceError as exc:
            self._refuse(context, exc)
        self.governance.recorded()
        log.info("expansion request filed", extra={"request": filed.request_id, "source": filed.source,
                                                   "by": requested_by})
        return expansion_info(filed)

    def ListExpansions(self, request: control_pb2.ExpansionQuery, context: grpc.ServicerContext
                       ) -> control_pb2.ExpansionList:
        caller = self._caller(context, {"admin", "platform", "source"})
        source = caller if caller.startswith("source/") else request.source or None
        try:
            found = self.governance.expansions.list(
                source=source, status=ExpansionStatus(request.status) if request.status else None)
        except ValueError as exc:
            self._refuse(context, exc)
        return control_pb2.ExpansionList(requests=[expansion_info(r) for r in found])

    def ReportUsage(self, request: control_pb2.UsageBatch, context: grpc.ServicerContext) -> control_pb2.UsageAck:
        caller = self._caller(context, {"platform"})
        try:
            count = self.governance.usage.report(caller, list(request.line_json), now=self.governance.clock())
        except UsageError as exc:
            self._refuse(context, exc)
        self.governance.recorded()
        return control_pb2.UsageAck(lines=count)

    def GetUsage(self, request: control_pb2.UsageQuery, context: grpc.ServicerContext) -> control_pb2.UsageEvidence:
        caller = self._caller(context, {"source"})
        try:
            return self.governance.usage.evidence(caller, request.first_day, request.last_day)
        except UsageError as exc:
            raise Conflict(str(exc)) from exc

    def DecideExpansion(self, request: control_pb2.ExpansionDecision, context: grpc.ServicerContext
                        ) -> control_pb2.ExpansionInfo:
        caller = self._caller(context, {"source"})
        try:
            decided = self.governance.expansions.decide(
                request.request_id, source=caller, accept=request.accept, reason=request.reason,
                condition=request.condition, now=self.governance.clock())
        except (GovernanceError, ValueError) as exc:
            self._refuse(context, exc)
        self.governance.recorded()
        log.info("expansion request decided", extra={"request": decided.request_id, "source": caller,
                                                     "status": decided.status.value})
        return expansion_info(decided)
