"""The platform's window on data governance at the coordinator: the city-wide list of data items (served to
institutions as `GET /v1/catalogue`), expansion requests filed for institutions, and approval statuses."""

from __future__ import annotations

import json
from typing import Any, Protocol

import grpc

from errors import Unavailable
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc


class CatalogueUnavailable(Unavailable):
    """The coordinator did not answer, or has no such version."""


class CatalogueService(Protocol):
    def version(self, version: int = 0) -> dict[str, Any]: ...

    def file_expansion(self, *, institution: str, source: str, item: str, category: str, description: str,
                       reason: str, intended_use: str) -> dict[str, Any]: ...

    def expansions(self, institution: str) -> list[dict[str, Any]]: ...


def _expansion(info: control_pb2.ExpansionInfo) -> dict[str, Any]:
    return {"request_id": info.request_id, "source": info.source, "item": info.item, "category": info.category,
            "description": info.description, "reason": info.reason, "intended_use": info.intended_use,
            "status": info.status, "decision_reason": info.decision_reason, "condition": info.condition,
            "filed_at": info.filed_at}


class CoordinatorCatalogue:
    """`CatalogueService` over the coordinator's gRPC service, with the platform's certificate."""

    def __init__(self, address: str, tls: NodeTls, *, timeout: float = 10.0) -> None:
        self._channel = open_secure_channel(address, tls, Identity("coordinator", "main"))
        self._stub = control_pb2_grpc.CoordinatorStub(self._channel)
        self._timeout = timeout

    def _call(self, method: str, request):
        try:
            return getattr(self._stub, method)(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ValueError(exc.details()) from None
            raise CatalogueUnavailable(f"{method}: {exc.code().name}") from None

    def version(self, version: int = 0) -> dict[str, Any]:
        found = self._call("GetCatalogue", control_pb2.CatalogueQuery(version=version))
        return {"version": found.version, "latest": found.latest, "sha256": found.sha256, "cause": found.cause,
                "created_at": found.created_at, **json.loads(found.catalogue_json)}

    def file_expansion(self, *, institution: str, source: str, item: str, category: str, description: str,
                       reason: str, intended_use: str) -> dict[str, Any]:
        return _expansion(self._call("FileExpansion", control_pb2.ExpansionFiling(
            source=source, item=item, category=category, description=description, reason=reason,
            intended_use=intended_use, requested_for=institution)))

    def expansions(self, institution: str) -> list[dict[str, Any]]:
        found = self._call("ListExpansions", control_pb2.ExpansionQuery())
        return [_expansion(e) for e in found.requests if e.requested_by == institution]

    def close(self) -> None:
        self._channel.close()
