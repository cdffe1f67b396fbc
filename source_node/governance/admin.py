"""What a source unit's administrator does on its own node: review requests, approve (with a signature made on
the administrator's side), decline, suspend, resume, revoke; answer expansion requests. No HTTP here: the
admin endpoint (`admin_http.py`) authenticates the administrator and calls these.

Every decision is recorded in the node's own store first (that is what the node enforces), then reported to
the coordinator; a report that fails is retried at the next `sync`.
"""

from __future__ import annotations

import logging
from typing import Any

from consent.governance import (
    ApprovalRecord,
    ApprovalStatus,
    ApprovalTerms,
    CatalogueError,
    CatalogueItem,
    GovernanceError,
    SignedApproval,
    usable_items,
)
from federation.key_binding import BindingVerifier
from source_node.governance.coordinator_link import CoordinatorLink, CoordinatorUnreachable
from source_node.governance.node_governance import SourceGovernance

log = logging.getLogger("xyd.source.governance")
MOVES = {"decline": ApprovalStatus.DECLINED, "suspend": ApprovalStatus.SUSPENDED,
         "resume": ApprovalStatus.APPROVED, "revoke": ApprovalStatus.REVOKED}


class AdminDesk:
    """The administrator's actions on one node; `link` is None when the node has no coordinator (tests)."""

    def __init__(self, governance: SourceGovernance, link: CoordinatorLink | None, *, actor: str,
                 bindings: BindingVerifier | None = None) -> None:
        self.governance = governance
        self.link = link
        self.bindings = bindings  # checks the coordinator's log key against the CA
        self.actor = actor  # how transitions name the administrator (the unit's admin key id)

    def sync(self) -> dict[str, Any]:
        """File the coordinator's new requests for this unit in the node's store; re-report any status the
        coordinator has not seen. Returns what happened (the coordinator may be unreachable: the node's own
        store still answers)."""
        store, now = self.governance.store, self.governance.clock()
        if self.link is None:
            return {"coordinator": "none"}
        try:
            filed = 0
            known = {r.approval_id for r in store.list()}
            for terms in self.link.requests():
                if terms.source == self.governance.party and terms.approval_id not in known:
                    store.file_request(terms, actor="coordinator/main", now=now)
                    filed += 1
            seen = self.link.statuses()
            reported = 0
            for record in store.list():
                if record.approval_id in seen and seen[record.approval_id] != record.status.value:
                    self.link.report(record, "status as recorded at the source node")
                    reported += 1
            return {"coordinator": "reached", "filed": filed, "reported": reported}
        except (CoordinatorUnreachable, GovernanceError) as exc:
            log.warning("governance sync with the coordinator failed: %s", exc)
            return {"coordinator": "unreachable", "error": str(exc)}

    def list(self, status: str | None = None) -> list[dict[str, Any]]:
        self.sync()
        records = self.governance.store.list(status=ApprovalStatus(status) if status else None)
        return [self._summary(r) for r in records]

    def page(self, status: str | None, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of the approvals (after a sync with the coordinator) and how many there are in all."""
        self.sync()
        wanted = ApprovalStatus(status) if status else None
        store = self.governance.store
        records = store.list(status=wanted, limit=limit, offset=offset)
        return [self._summary(r) for r in records], store.count(status=wanted)

    def show(self, approval_id: str) -> dict[str, Any]:
        store = self.governance.store
        record = store.get(approval_id)
        catalogue = self.governance.catalogue()
        shown = self._summary(record) | {
            "terms": record.terms.to_json(),
            "signed": None if record.signed is None else record.signed.to_json(),
            "history": [{"from": None if h.source is None else h.source.value, "to": h.target.value,
                         "actor": h.actor, "reason": h.reason, "at": h.at.isoformat()} for h in store.history(approval_id)],
            "used": store.used(approval_id),
            # What a task under these terms may load, and what of the request the catalogue will never allow.
            "usable_items": list(usable_items(record.terms, catalogue, None)),
            "not_shared_in_request": [i for i in record.terms.items
                                      if catalogue.condition_of(i).value == "not_shared"],
        }
        return shown

    def file(self, terms: ApprovalTerms) -> dict[str, Any]:
        """A request the administrator files on its own node (a unit without a coordinator, or its own project)."""
        record = self.governance.store.file_request(terms, actor=self.actor, now=self.governance.clock())
        return self._summary(record)

    def approve(self, approval_id: str, signed: SignedApproval) -> dict[str, Any]:
        """Record the administrator's signature (made with the unit's key, on the administrator's side)."""
        if signed.terms.approval_id != approval_id:
            raise GovernanceError("the signed approval is for other terms")
        record = self.governance.store.approve(signed, actor=self.actor, now=self.governance.clock())
        self._report(record, "approved by the source unit")
        return self._summary(record)

    def move(self, approval_id: str, action: str, reason: str) -> dict[str, Any]:
        if action not in MOVES:
            raise GovernanceError(f"unknown action {action!r}; known: {sorted(MOVES)}")
        record = self.governance.store.transition(approval_id, MOVES[action], actor=self.actor, reason=reason,
                                                  now=self.governance.clock())
        self._report(record, reason)
        return self._summary(record)

    def _report(self, record: ApprovalRecord, reason: str) -> None:
        if self.link is None:
            return
        try:
            self.link.report(record, reason)
        except CoordinatorUnreachable as exc:
            log.warning("status not reported to the coordinator yet: %s", exc)

    @staticmethod
    def _summary(record: ApprovalRecord) -> dict[str, Any]:
        terms = record.terms
        return {"approval_id": record.approval_id, "status": record.status.value, "project": terms.project,
                "purpose": terms.purpose, "leader": terms.leader, "items": list(terms.items),
                "algorithms": dict(terms.algorithms), "not_before": terms.not_before.isoformat(),
                "not_after": terms.not_after.isoformat(), "updated_at": record.updated_at.isoformat()}

    def usage(self, first_day: str, last_day: str) -> dict[str, Any]:
        """How this unit's data was used in the days, verified against the platform's one audit log and reconciled
        with the node's own record."""
        from source_node.governance.usage_report import usage_report

        if self.link is None or self.bindings is None:
            raise GovernanceError("this node has no coordinator to read its usage lines from")
        report = usage_report(self.governance, self.link, self.bindings, first_day, last_day).to_json()
        report["models"] = self._models(report["tasks"])
        return report

    def _models(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The models built from this unit's data in the period, and where the approval lets them be served."""
        models = []
        for task in tasks:
            if task.get("stage") != "publish" or not task.get("model_id"):
                continue
            try:
                record = self.governance.store.get(task["approval_id"])
            except GovernanceError:
                continue
            serving = record.terms.serving
            models.append({"model_id": task["model_id"], "approval_id": record.approval_id,
                           "approval_status": record.status.value, "served_by": record.terms.leader,
                           "online": serving.online and record.status is ApprovalStatus.APPROVED,
                           "institutions": list(serving.institutions),
                           "institution_kinds": list(serving.institution_kinds)})
        return models

    # ---- the catalogue and expansion requests ------------------------------------------------

    def catalogue(self) -> dict[str, Any]:
        return self.governance.catalogue().to_json()

    def expansions(self) -> list[dict[str, Any]]:
        if self.link is None:
            return []
        return [{"request_id": e.request_id, "item": e.item, "category": e.category, "description": e.description,
                 "reason": e.reason, "intended_use": e.intended_use, "requested_by": e.requested_by,
                 "status": e.status, "decision_reason": e.decision_reason, "condition": e.condition}
                for e in self.link.expansions()]

    def decide_expansion(self, request_id: str, *, accept: bool, reason: str, item: dict[str, Any] | None = None
                         ) -> dict[str, Any]:
        """Accept (the column enters the catalogue with its condition, and the node re-registers) or decline."""
        if self.link is None:
            raise GovernanceError("this node has no coordinator to answer expansion requests through")
        asked = next((e for e in self.link.expansions() if e.request_id == request_id), None)
        if asked is None:
            raise GovernanceError(f"no expansion request {request_id} for this unit")
        added = None
        if accept:
            declared = dict(item or {})
            declared.setdefault("name", asked.item)
            declared.setdefault("category", asked.category)
            declared.setdefault("description", asked.description)
            added = CatalogueItem.from_json(declared)
            if added.name not in self.governance.table.schema.column_names:
                raise CatalogueError(f"{added.name} is not a column of this node's table")
        decided = self.link.decide_expansion(request_id, accept=accept, reason=reason,
                                             condition=added.condition.value if added else "")
        if added is not None:
            self.governance.catalogue.add(added)
            self.link.reregister()
        return {"request_id": decided.request_id, "status": decided.status, "condition": decided.condition}
