"""The hook through which every state change and every use becomes an audit leaf in the same transaction.

`AuditSink.append(conn, event)` runs inside the caller's open transaction: if the leaf cannot be written the
change rolls back, and if the change rolls back so does the leaf. `consent.audit.log.AuditLog` is the sink
in production; events carry ids, codes and hashes only (see consent/audit/events.py for the leaf rule).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection

from consent.audit.events import AuditEvent, keyed_ref
from consent.authorisation.codec import b64encode

ENTERPRISE_ACTOR_IN_LEAF = "enterprise/subject"


class AuditSink(Protocol):
    """Writes one leaf per event inside the caller's transaction and returns its receipt."""

    def append(self, conn: Connection, event: AuditEvent) -> object: ...


class NoAudit:
    """A sink that records nothing, for deployments that deliberately run a registry without a log."""

    def append(self, conn: Connection, event: AuditEvent) -> None:
        return None


def leaf_actor(actor: str) -> str:
    """The actor as a leaf may name it: an enterprise acts under its credit code, which leaves must not
    hold, so it appears as `enterprise/subject` (the leaf's `subject_ref` and authorisation id say which)."""
    kind, _, _ = actor.partition("/")
    return ENTERPRISE_ACTOR_IN_LEAF if kind == "enterprise" else actor


def subject_ref(key: bytes | None, credit_code: str) -> str | None:
    """Keyed reference to an enterprise (HMAC-SHA256 under the registry's key), or None without a key."""
    return None if key is None else keyed_ref(key, credit_code)


def receipt_json(receipt: object) -> dict[str, Any] | None:
    """An audit receipt in JSON form for the bank: index, tree size, root and the leaf itself, so the bank
    can recompute the leaf hash and later ask for an inclusion proof against a signed checkpoint."""
    if receipt is None or isinstance(receipt, dict):
        return receipt
    to_json = getattr(receipt, "to_json", None)
    if callable(to_json):
        return to_json()
    try:
        return {
            "index": receipt.index,  # type: ignore[attr-defined]
            "tree_size": receipt.tree_size,  # type: ignore[attr-defined]
            "root": receipt.root.hex(),  # type: ignore[attr-defined]
            "leaf_hash": receipt.leaf_hash.hex(),  # type: ignore[attr-defined]
            "leaf": b64encode(receipt.leaf),  # type: ignore[attr-defined]
        }
    except AttributeError:
        return None
