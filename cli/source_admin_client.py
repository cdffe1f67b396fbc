"""The administrator's client of its own node's admin endpoint: every request signed with the unit's approval
key. Approving signs the terms on this side, after checking they are the terms the request id names."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.governance import ApprovalTerms, sign_approval
from consent.governance.admin_signature import sign_admin_request
from errors import XydError


class AdminError(XydError):
    """The node refused or could not be reached; `code` is the node's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code = status, code


class AdminClient:
    def __init__(self, url: str, key: Ed25519PrivateKey, *, clock: Callable[[], float] = time.time,
                 timeout: float = 30.0) -> None:
        self._url = url.rstrip("/")
        self._key = key
        self._clock = clock
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = b"" if body is None else json.dumps(body, sort_keys=True).encode()
        headers = sign_admin_request(self._key, method, path, data, at=int(self._clock()))
        if data:
            headers["Content-Type"] = "application/json"
        try:
            reply = self._http.request(method, self._url + path, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise AdminError(0, "UNREACHABLE", f"the node's admin endpoint {self._url}: {exc}") from None
        payload = reply.json() if reply.content else {}
        if reply.status_code != 200:
            raise AdminError(reply.status_code, str(payload.get("error", "ERROR")), str(payload.get("message", "")))
        return payload

    def approvals(self, status: str | None = None) -> list[dict[str, Any]]:
        return self.request("GET", "/admin/approvals" + (f"?status={status}" if status else ""))["approvals"]

    def show(self, approval_id: str) -> dict[str, Any]:
        return self.request("GET", f"/admin/approvals/{approval_id}")

    def approve(self, approval_id: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Fetch the request, check its id names exactly these terms, sign them here, send the signature."""
        shown = self.show(approval_id)
        terms = ApprovalTerms.from_json(shown["terms"])
        if terms.approval_id != approval_id:
            raise AdminError(0, "TERMS_MISMATCH", "the node showed terms that are not the ones this id names")
        signed = sign_approval(terms, self._key, signed_at=now or datetime.fromtimestamp(self._clock(), UTC))
        return self.request("POST", f"/admin/approvals/{approval_id}/approve", {"signed": signed.to_json()})

    def move(self, approval_id: str, action: str, reason: str) -> dict[str, Any]:
        return self.request("POST", f"/admin/approvals/{approval_id}/{action}", {"reason": reason})

    def file(self, terms: dict[str, Any]) -> dict[str, Any]:
        """File a request on the node itself (no coordinator in between)."""
        return self.request("POST", "/admin/requests", {"terms": terms})

    def sync(self) -> dict[str, Any]:
        return self.request("POST", "/admin/sync", {})

    def catalogue(self) -> dict[str, Any]:
        return self.request("GET", "/admin/catalogue")

    def expansions(self) -> list[dict[str, Any]]:
        return self.request("GET", "/admin/expansions")["requests"]

    def decide_expansion(self, request_id: str, *, accept: bool, reason: str,
                         item: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason}
        if item:
            body["item"] = item
        return self.request("POST", f"/admin/expansions/{request_id}/{'accept' if accept else 'decline'}", body)

    def usage(self, start: str, end: str, fmt: str = "json") -> dict[str, Any]:
        return self.request("GET", f"/admin/usage?from={start}&to={end}")
