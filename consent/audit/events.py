"""Audit events and their leaf encoding: ids, codes, times and hashes only, never personal data or values.

The leaf rule (enforced here, documented in docs/protocols/audit-log.md):
- only the fields below exist; an unknown key is refused;
- ids are short ASCII tokens (letters, digits, `. _ : / -`, at most 128 chars): no spaces, no non-ASCII, so
  no names, addresses or sentences; a segment shaped like a PRC resident-id / unified-social-credit code
  (18 chars), a mobile number (11 digits starting with 1) or a card/old-id number (15-19 digits) is refused;
  enterprises appear only as `subject_ref`, a keyed hash (`keyed_ref`) the registry can recompute;
- codes (status, reason, purpose, mode) are UPPER_SNAKE tokens;
- anything else is a SHA-256 digest (64 lowercase hex) of material kept elsewhere: the signed request, the
  sealed answer, the feedback record. Hash only high-entropy material (or use `keyed_ref`): a bare hash of
  a low-entropy value (a yes/no answer, an amount) can be reversed by guessing.
A leaf is the RFC 8785 canonical JSON of the event, so the same event always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from consent.audit.errors import EventRejected
from consent.canonical_json import canonical_json

LEAF_VERSION = 1


class EventKind(StrEnum):
    """What a leaf records: every authorisation change and every data use."""

    AUTHORISATION_CREATED = "authorisation_created"
    AUTHORISATION_STATUS_CHANGED = "authorisation_status_changed"
    VERIFICATION_ANSWERED = "verification_answered"
    RAW_DETAIL_SERVED = "raw_detail_served"
    REQUEST_REFUSED = "request_refused"
    SCORE_SERVED = "score_served"
    MODEL_TRAINED = "model_trained"
    FEEDBACK_RECEIVED = "feedback_received"
    ALERT_PUSHED = "alert_pushed"
    AUDIT_EXPORT = "audit_export"
    ENTERPRISE_KEY_CHANGED = "enterprise_key_changed"
    # Data governance (docs/protocols/governance.md): approvals, the catalogue, and how a unit's data was used.
    APPROVAL_FILED = "approval_filed"
    APPROVAL_STATUS_CHANGED = "approval_status_changed"
    CATALOGUE_PUBLISHED = "catalogue_published"
    EXPANSION_FILED = "catalogue_expansion_filed"
    EXPANSION_DECIDED = "catalogue_expansion_decided"
    TASK_RUN = "governed_task_run"
    USAGE_REPORTED = "usage_reported"
    # Enterprises' consent (docs/protocols/consent.md): banks' requests, the fields a source node answers
    # verifications about, self-declared information, report reads, and a merge of two logs into one.
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_REQUEST_CHANGED = "consent_request_changed"
    VERIFICATION_FIELDS_PUBLISHED = "verification_fields_published"
    DECLARATION_RECORDED = "declaration_recorded"
    DECLARATION_READ = "declaration_read"
    REPORT_READ = "report_read"
    LOG_MERGED = "log_merged"


ID_FIELDS = ("authorisation_id", "use_id", "institution", "source_unit", "job_id", "model_id", "actor",
             "approval_id", "request_id")
CODE_FIELDS = ("status_from", "status_to", "reason_code", "purpose", "mode")

# The ids a compliance officer needs to attribute each kind of event; more may be given.
REQUIRED_FIELDS: Mapping[EventKind, tuple[str, ...]] = {
    EventKind.AUTHORISATION_CREATED: ("authorisation_id",),
    EventKind.AUTHORISATION_STATUS_CHANGED: (
        "authorisation_id", "status_from", "status_to", "actor", "reason_code",
    ),
    EventKind.VERIFICATION_ANSWERED: ("authorisation_id", "use_id", "institution", "source_unit"),
    EventKind.RAW_DETAIL_SERVED: ("authorisation_id", "use_id", "institution", "source_unit"),
    EventKind.REQUEST_REFUSED: ("institution", "reason_code"),
    EventKind.SCORE_SERVED: ("use_id", "institution", "model_id"),
    EventKind.MODEL_TRAINED: ("job_id", "model_id"),
    EventKind.FEEDBACK_RECEIVED: ("use_id", "institution"),
    EventKind.ALERT_PUSHED: ("authorisation_id", "institution"),
    EventKind.AUDIT_EXPORT: ("actor",),
    # status_to says what happened to the binding (e.g. BOUND, ROTATED, REVOKED); the key is a digest.
    EventKind.ENTERPRISE_KEY_CHANGED: ("subject_ref", "status_to", "actor"),
    EventKind.APPROVAL_FILED: ("approval_id", "source_unit", "actor"),
    EventKind.APPROVAL_STATUS_CHANGED: ("approval_id", "source_unit", "status_to", "actor"),
    # The catalogue and expansion requests are named by digests of their canonical JSON.
    EventKind.CATALOGUE_PUBLISHED: ("actor",),
    EventKind.EXPANSION_FILED: ("source_unit", "actor"),
    EventKind.EXPANSION_DECIDED: ("source_unit", "actor", "status_to"),
    # A usage line (what ran or was answered, under which approval) is named by the digest of its canonical JSON.
    EventKind.TASK_RUN: ("job_id", "source_unit", "approval_id"),
    EventKind.USAGE_REPORTED: ("source_unit", "actor"),
    # A bank asks an enterprise for consent (request_id: the consent request), and what became of the request.
    EventKind.CONSENT_REQUESTED: ("request_id", "institution", "purpose", "subject_ref"),
    EventKind.CONSENT_REQUEST_CHANGED: ("request_id", "status_from", "status_to", "actor", "reason_code"),
    # The fields a source node answers verifications about (their digest), as it announced them.
    EventKind.VERIFICATION_FIELDS_PUBLISHED: ("source_unit",),
    # Self-declared information: a version submitted, corrected or withdrawn (status_to), and a bank's read.
    EventKind.DECLARATION_RECORDED: ("subject_ref", "status_to", "actor"),
    EventKind.DECLARATION_READ: ("use_id", "institution", "subject_ref"),
    EventKind.REPORT_READ: ("use_id", "institution", "purpose"),
    # Another log's final head folded into this one (digests of the merged log's checkpoint and leaves).
    EventKind.LOG_MERGED: ("actor", "reason_code"),
}

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SEGMENT_SPLIT = re.compile(r"[._:/-]")
# 18 characters with digits in positions 3-8: both the PRC resident-id number and the unified social
# credit code have this shape (GB 11643 / GB 32100), and neither may appear in a leaf.
_EIGHTEEN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", re.IGNORECASE)
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LONG_NUMBER = re.compile(r"[0-9]{15,19}")  # old 15-digit ids, bank card numbers (16-19)
MAX_DIGESTS = 8


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256: the form every digest in a leaf takes."""
    return hashlib.sha256(data).hexdigest()


def keyed_ref(key: bytes, value: str | bytes) -> str:
    """HMAC-SHA256 reference to a low-entropy identifier (e.g. a credit code) that outsiders cannot guess."""
    if len(key) < 16:
        raise ValueError("keyed_ref needs a key of at least 16 bytes")
    data = value.encode() if isinstance(value, str) else value
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise EventRejected(name, "must be an ASCII id token (letters, digits, . _ : / -; at most 128 chars)")
    for segment in _SEGMENT_SPLIT.split(value):
        if _EIGHTEEN.fullmatch(segment) or _MOBILE.fullmatch(segment) or _LONG_NUMBER.fullmatch(segment):
            raise EventRejected(name, "looks like a personal or enterprise identifier; use subject_ref")


def _normalise_time(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise EventRejected("occurred_at", "must be a timezone-aware datetime")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text):
        raise EventRejected("at", "must be UTC time like 2025-01-31T09:30:00.000Z")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One audit leaf's content. Validated on construction; `digests` may be given as a dict."""

    kind: EventKind
    occurred_at: datetime
    authorisation_id: str | None = None
    use_id: str | None = None
    institution: str | None = None
    source_unit: str | None = None
    job_id: str | None = None
    model_id: str | None = None
    actor: str | None = None
    approval_id: str | None = None
    request_id: str | None = None
    status_from: str | None = None
    status_to: str | None = None
    reason_code: str | None = None
    purpose: str | None = None
    mode: str | None = None
    subject_ref: str | None = None
    digests: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", EventKind(self.kind))
        except ValueError:
            raise EventRejected("kind", "unknown event kind") from None
        object.__setattr__(self, "occurred_at", _normalise_time(self.occurred_at))
        for name in ID_FIELDS:
            value = getattr(self, name)
            if value is not None:
                _check_id(name, value)
        for name in CODE_FIELDS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _CODE.fullmatch(value)):
                raise EventRejected(name, "must be an UPPER_SNAKE code")
        if self.subject_ref is not None and (
            not isinstance(self.subject_ref, str) or not _HEX64.fullmatch(self.subject_ref)
        ):
            raise EventRejected("subject_ref", "must be 64 lowercase hex (use keyed_ref)")
        object.__setattr__(self, "digests", self._normalise_digests(self.digests))
        for name in REQUIRED_FIELDS[self.kind]:
            if getattr(self, name) is None:
                raise EventRejected(name, f"is required for {self.kind.value}")

    @staticmethod
    def _normalise_digests(raw: Any) -> tuple[tuple[str, str], ...]:
        items = list(raw.items()) if isinstance(raw, Mapping) else list(raw)
        if len(items) > MAX_DIGESTS:
            raise EventRejected("digests", f"at most {MAX_DIGESTS} digests")
        seen = set()
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise EventRejected("digests", "must map names to hex digests")
            name, value = item
            if not isinstance(name, str) or not _DIGEST_NAME.fullmatch(name) or name in seen:
                raise EventRejected("digests", "bad or repeated digest name")
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise EventRejected(f"digests.{name}", "must be a SHA-256 digest (64 lowercase hex)")
            seen.add(name)
        return tuple(sorted(items))

    @property
    def digest_map(self) -> dict[str, str]:
        return dict(self.digests)

    def to_json_object(self) -> dict[str, Any]:
        """The leaf's JSON object: version, kind, time, then only the fields that are set."""
        document: dict[str, Any] = {"v": LEAF_VERSION, "kind": self.kind.value, "at": _format_time(self.occurred_at)}
        for name in (*ID_FIELDS, *CODE_FIELDS, "subject_ref"):
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        if self.digests:
            document["digests"] = dict(self.digests)
        return document

    def to_leaf(self) -> bytes:
        """RFC 8785 canonical JSON: the exact bytes that are hashed into the tree (made once per event, which
        is immutable, so a writer can have them made before it takes the log's append lock)."""
        leaf = self.__dict__.get("_leaf")
        if leaf is None:
            leaf = canonical_json(self.to_json_object())
            object.__setattr__(self, "_leaf", leaf)
        return leaf

    @classmethod
    def from_json_object(cls, document: Mapping[str, Any]) -> AuditEvent:
        """Build from a leaf's JSON object; unknown keys and wrong versions are refused."""
        allowed = {"v", "kind", "at", "digests", "subject_ref", *ID_FIELDS, *CODE_FIELDS}
        unknown = set(document) - allowed
        if unknown:
            raise EventRejected(sorted(unknown)[0], "unknown key")
        if document.get("v") != LEAF_VERSION:
            raise EventRejected("v", f"leaf version must be {LEAF_VERSION}")
        if "kind" not in document:
            raise EventRejected("kind", "missing")
        digests = document.get("digests", {})
        if not isinstance(digests, Mapping):
            raise EventRejected("digests", "must be an object")
        values = {f.name: document.get(f.name) for f in fields(cls) if f.name in document}
        values.pop("digests", None)
        return cls(occurred_at=_parse_time(document.get("at")), digests=digests, **values)

    @classmethod
    def from_leaf(cls, leaf: bytes) -> AuditEvent:
        """Parse leaf bytes; refuse anything that is not exactly the canonical encoding of a valid event."""
        try:
            document = json.loads(leaf)
        except (ValueError, UnicodeDecodeError):
            raise EventRejected("leaf", "not JSON") from None
        if not isinstance(document, dict):
            raise EventRejected("leaf", "not a JSON object")
        event = cls.from_json_object(document)
        if event.to_leaf() != leaf:
            raise EventRejected("leaf", "not the canonical (RFC 8785) encoding of the event")
        return event
