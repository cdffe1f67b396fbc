"""The data-use approval: what a source unit allows one project to do with its data, signed by the unit.

The operator files `ApprovalTerms` as a request; the source unit's administrator signs them with the unit's
own Ed25519 approval key (`sign_approval`), which never leaves the unit. Signatures cover
`xyd/governance/approval/v1 || 0x00 || canonical_json({terms, key_id, signed_at})`, and the approval id is
`apv-` + the first 32 hex digits of SHA-256 over the canonical terms: changing any term makes another approval.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.authorisation.codec import b64decode, format_time, parse_canonical, parse_time
from consent.authorisation.errors import WireFormatError
from consent.authorisation.signatures import SignedPayload
from consent.canonical_json import canonical_json
from consent.governance.catalogue import ITEM_NAME, PARTY
from consent.governance.errors import BadApprovalSignature, InvalidApproval

DOMAIN = b"xyd/governance/approval/v1"
TERMS_VERSION = 1
ALGORITHMS = ("psi", "secureboost", "hetero_lr", "scorecard", "verification")
# Minimum key sizes an approval may ask for are bounded by what the HE engine accepts outside tests.
MAX_KEY_BITS = 8192
PROJECT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PURPOSE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
INSTITUTION = re.compile(r"^[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]{0,63}$")
KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TERM_KEYS = {"v", "source", "project", "purpose", "description", "leader", "counterparties", "items",
              "algorithms", "serving", "quotas", "not_before", "not_after", "requested_by"}


def _tokens(value: Any, pattern: re.Pattern, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and pattern.match(v) for v in value):
        raise InvalidApproval(f"{what} must be a list of tokens like {pattern.pattern}")
    if len(set(value)) != len(value):
        raise InvalidApproval(f"{what} lists a value twice")
    return tuple(sorted(value))


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**53 - 1:
        raise InvalidApproval(f"{what} must be a non-negative integer")
    return value


@dataclass(frozen=True)
class Serving:
    """Whether a model built under the approval may score online, and for which institutions (by identity
    such as `bank/icbc-sz`, or by kind such as `bank`); and whether a score's reasons may name the unit's
    catalogue items (their public descriptions) its splits read. `name_items` defaults to false: reasons then
    name the unit's data category only, and the platform never learns which item a split reads."""

    online: bool = False
    institutions: tuple[str, ...] = ()
    institution_kinds: tuple[str, ...] = ()
    name_items: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.online, bool):
            raise InvalidApproval("serving.online must be true or false")
        if not isinstance(self.name_items, bool):
            raise InvalidApproval("serving.name_items must be true or false")
        object.__setattr__(self, "institutions", _tokens(list(self.institutions), INSTITUTION, "serving.institutions"))
        object.__setattr__(self, "institution_kinds",
                           _tokens(list(self.institution_kinds), KIND, "serving.institution_kinds"))

    def allows(self, institution: str, kind: str) -> bool:
        return self.online and (institution in self.institutions or kind in self.institution_kinds)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"online": self.online, "institutions": list(self.institutions),
                               "institution_kinds": list(self.institution_kinds)}
        if self.name_items:  # written only when granted, so approvals signed before the flag keep their ids
            out["name_items"] = True
        return out


@dataclass(frozen=True)
class Quotas:
    """Totals over the approval's life: rows read by tasks (each stage counts the rows it reads) and answers
    given (one per enterprise scored online or verification answered). 0 means none allowed."""

    rows: int
    queries: int

    def __post_init__(self) -> None:
        _count(self.rows, "quotas.rows")
        _count(self.queries, "quotas.queries")

    def to_json(self) -> dict[str, int]:
        return {"rows": self.rows, "queries": self.queries}


@dataclass(frozen=True)
class ApprovalTerms:
    """What a source unit allows: one project, its purpose, who leads and who else takes part, which data
    items, which algorithms with which minimum key sizes, online serving, quotas and a validity window
    `[not_before, not_after)`."""

    source: str
    project: str
    purpose: str
    description: str
    leader: str
    counterparties: tuple[str, ...]
    items: tuple[str, ...]
    algorithms: Mapping[str, int]
    serving: Serving
    quotas: Quotas
    not_before: datetime
    not_after: datetime
    requested_by: str
    _id: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        for name in ("source", "leader", "requested_by"):
            value = getattr(self, name)
            if not isinstance(value, str) or not PARTY.match(value):
                raise InvalidApproval(f"{name} must be a party identity like source/tax")
        if not self.source.startswith("source/"):
            raise InvalidApproval("source must be a source unit (source/<name>)")
        if not self.leader.startswith("platform/"):
            raise InvalidApproval("only the platform may lead a job: leader must be platform/<name>")
        if not isinstance(self.project, str) or not PROJECT.match(self.project):
            raise InvalidApproval("project must be a lowercase token like credit-2026")
        if not isinstance(self.purpose, str) or not PURPOSE.match(self.purpose):
            raise InvalidApproval("purpose must be an UPPER_SNAKE code like RISK_MODELLING")
        if not isinstance(self.description, str) or len(self.description) > 500:
            raise InvalidApproval("description must be a string of at most 500 characters")
        counterparties = _tokens(list(self.counterparties), PARTY, "counterparties")
        if self.source in counterparties or self.leader in counterparties:
            raise InvalidApproval("counterparties name the other parties: not the source or the leader")
        object.__setattr__(self, "counterparties", counterparties)
        object.__setattr__(self, "items", _tokens(list(self.items), ITEM_NAME, "items"))
        if not isinstance(self.algorithms, Mapping) or not self.algorithms:
            raise InvalidApproval("algorithms must map at least one algorithm to its minimum key size")
        unknown = set(self.algorithms) - set(ALGORITHMS)
        if unknown:
            raise InvalidApproval(f"unknown algorithms {sorted(unknown)}; known: {list(ALGORITHMS)}")
        algorithms = {}
        for name, bits in sorted(self.algorithms.items()):
            if _count(bits, f"algorithms.{name}") > MAX_KEY_BITS:
                raise InvalidApproval(f"algorithms.{name}: at most {MAX_KEY_BITS} bits")
            algorithms[name] = bits
        object.__setattr__(self, "algorithms", algorithms)
        if not isinstance(self.serving, Serving) or not isinstance(self.quotas, Quotas):
            raise InvalidApproval("serving and quotas must be given")
        for name in ("not_before", "not_after"):
            try:
                parse_time(format_time(getattr(self, name)))
            except (WireFormatError, AttributeError, TypeError) as exc:
                raise InvalidApproval(f"{name}: {exc}") from None
        if self.not_after <= self.not_before:
            raise InvalidApproval("the validity period is empty: not_after must follow not_before")
        object.__setattr__(self, "_id", "apv-" + hashlib.sha256(canonical_json(self.to_json())).hexdigest()[:32])

    @property
    def approval_id(self) -> str:
        return self._id

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now < self.not_after

    def to_json(self) -> dict[str, Any]:
        return {"v": TERMS_VERSION, "source": self.source, "project": self.project, "purpose": self.purpose,
                "description": self.description, "leader": self.leader,
                "counterparties": list(self.counterparties), "items": list(self.items),
                "algorithms": dict(self.algorithms), "serving": self.serving.to_json(),
                "quotas": self.quotas.to_json(), "not_before": format_time(self.not_before),
                "not_after": format_time(self.not_after), "requested_by": self.requested_by}

    @classmethod
    def from_json(cls, obj: Any) -> ApprovalTerms:
        """Terms from their JSON object (an approval request file, a stored request); strict about fields."""
        if not isinstance(obj, Mapping):
            raise InvalidApproval("approval terms must be a JSON object")
        unknown, missing = set(obj) - _TERM_KEYS, (_TERM_KEYS - {"v", "description"}) - set(obj)
        if unknown or missing:
            raise InvalidApproval(f"approval terms: unknown fields {sorted(unknown)}, missing {sorted(missing)}")
        if obj.get("v", TERMS_VERSION) != TERMS_VERSION:
            raise InvalidApproval(f"approval terms version must be {TERMS_VERSION}")
        serving, quotas = obj["serving"], obj["quotas"]
        if not isinstance(serving, Mapping) or \
                set(serving) - {"online", "institutions", "institution_kinds", "name_items"}:
            raise InvalidApproval("serving must be {online, institutions, institution_kinds[, name_items]}")
        if not isinstance(quotas, Mapping) or set(quotas) != {"rows", "queries"}:
            raise InvalidApproval("quotas must be {rows, queries}")
        try:
            window = parse_time(obj["not_before"]), parse_time(obj["not_after"])
        except WireFormatError as exc:
            raise InvalidApproval(f"validity period: {exc}") from None
        return cls(source=obj["source"], project=obj["project"], purpose=obj["purpose"],
                   description=obj.get("description", ""), leader=obj["leader"],
                   counterparties=tuple(_list(obj["counterparties"], "counterparties")),
                   items=tuple(_list(obj["items"], "items")), algorithms=obj["algorithms"],
                   serving=Serving(online=serving.get("online", False),
                                   institutions=tuple(_list(serving.get("institutions", []), "institutions")),
                                   institution_kinds=tuple(_list(serving.get("institution_kinds", []),
                                                                 "institution_kinds")),
                                   name_items=serving.get("name_items", False)),
                   quotas=Quotas(quotas["rows"], quotas["queries"]),
                   not_before=window[0], not_after=window[1], requested_by=obj["requested_by"])


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise InvalidApproval(f"{what} must be a list")
    return value


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def approval_key_id(key: Ed25519PublicKey) -> str:
    """Hex of the first 8 bytes of SHA-256 over the raw public key: names the key in an approval."""
    return hashlib.sha256(public_key_bytes(key)).digest()[:8].hex()


@dataclass(frozen=True)
class SignedApproval(SignedPayload):
    """Canonical payload {terms, key_id, signed_at} and the approval key's signature over it (as signed)."""

    def content(self) -> dict[str, Any]:
        try:
            content = parse_canonical(self.payload)
        except WireFormatError as exc:
            raise InvalidApproval(f"approval payload: {exc}") from None
        if set(content) != {"terms", "key_id", "signed_at"}:
            raise InvalidApproval(f"unexpected approval fields {sorted(content)}")
        return content

    @property
    def terms(self) -> ApprovalTerms:
        return ApprovalTerms.from_json(self.content()["terms"])

    @property
    def signed_at(self) -> datetime:
        try:
            return parse_time(self.content()["signed_at"])
        except WireFormatError as exc:
            raise InvalidApproval(f"signed_at: {exc}") from None

    def verify_with(self, key: Ed25519PublicKey) -> ApprovalTerms:
        """The terms, once the signature verifies with `key`; raises `BadApprovalSignature` otherwise
        (a changed byte, another unit's key) and `InvalidApproval` for a payload that does not parse."""
        content = self.content()
        if content["key_id"] != approval_key_id(key):
            raise BadApprovalSignature("the approval names another approval key")
        try:
            key.verify(self.signature, DOMAIN + b"\x00" + self.payload)
        except InvalidSignature:
            raise BadApprovalSignature("the approval's signature does not verify") from None
        return self.terms

    @classmethod
    def from_json(cls, obj: Any) -> SignedApproval:
        if not isinstance(obj, Mapping) or set(obj) != {"payload", "signature"}:
            raise InvalidApproval("a signed approval is {payload, signature}")
        try:
            return cls(b64decode(obj["payload"]), b64decode(obj["signature"]))
        except WireFormatError as exc:
            raise InvalidApproval(f"signed approval: {exc}") from None


def sign_approval(terms: ApprovalTerms, key: Ed25519PrivateKey, *, signed_at: datetime) -> SignedApproval:
    """The source unit's signature over `terms` (done on the unit's side, with its own key)."""
    payload = canonical_json({"terms": terms.to_json(), "key_id": approval_key_id(key.public_key()),
                              "signed_at": format_time(signed_at)})
    return SignedApproval(payload, key.sign(DOMAIN + b"\x00" + payload))
