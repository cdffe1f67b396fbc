"""The source node's governance calls to the coordinator, over the node's own mTLS certificate."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc

from consent.governance import ApprovalRecord, ApprovalTerms, CatalogueItem
from errors import Unavailable
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc

TIMEOUT_S = 10.0


class CoordinatorUnreachable(Unavailable):
    """The coordinator did not answer; the node's own store is unaffected."""


class CoordinatorLink:
    """Pull this unit's requests, report its decisions, answer expansion requests, re-register."""

    def __init__(self, address: str, tls: NodeTls, describe: Callable[[], control_pb2.NodeDescription],
                 own_address: Callable[[], str]) -> None:
        self._channel = open_secure_channel(address, tls, Identity("coordinator", "main"))
        self._stub = control_pb2_grpc.CoordinatorStub(self._channel)
        self._describe = describe
        self._own_address = own_address

    def _call(self, method: str, request):
        try:
            return getattr(self._stub, method)(request, timeout=TIMEOUT_S)
        except grpc.RpcError as exc:
            raise CoordinatorUnreachable(f"{method}: {exc.code().name}: {exc.details()}") from None

    def requests(self) -> list[ApprovalTerms]:
        """The requests the operator filed for this unit (the coordinator lists only the caller's own)."""
        reply = self._call("ListApprovals", control_pb2.ApprovalQuery())
        return [ApprovalTerms.from_json(json.loads(a.terms_json)) for a in reply.approvals]

    def statuses(self) -> dict[str, str]:
        reply = self._call("ListApprovals", control_pb2.ApprovalQuery())
        return {a.approval_id: a.status for a in reply.approvals}

    def report(self, record: ApprovalRecord, reason: str) -> None:
        signed = "" if record.signed is None else json.dumps(record.signed.to_json(), sort_keys=True)
        self._call("ReportApproval", control_pb2.ApprovalReport(
            approval_id=record.approval_id, status=record.status.value, reason=reason, signed_json=signed))

    def expansions(self, status: str = "") -> list[control_pb2.ExpansionInfo]:
        return list(self._call("ListExpansions", control_pb2.ExpansionQuery(status=status)).requests)

    def decide_expansion(self, request_id: str, *, accept: bool, reason: str, condition: str = ""
                         ) -> control_pb2.ExpansionInfo:
        return self._call("DecideExpansion", control_pb2.ExpansionDecision(
            request_id=request_id, accept=accept, reason=reason, condition=condition))

    def usage(self, first_day: str, last_day: str) -> control_pb2.UsageEvidence:
        return self._call("GetUsage", control_pb2.UsageQuery(first_day=first_day, last_day=last_day))

    def reregister(self) -> None:
        """Announce the node again (its catalogue changed): the coordinator publishes a new list version."""
        self._call("Register", control_pb2.RegisterRequest(address=self._own_address(), description=self._describe()))

    def close(self) -> None:
        self._channel.close()


def catalogue_message(items: tuple[CatalogueItem, ...]) -> list[control_pb2.CatalogueItem]:
    return [control_pb2.CatalogueItem(**item.to_json()) for item in items]
