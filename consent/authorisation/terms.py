"""Immutable authorisation terms: what an enterprise allows, to whom, for what, for how long, how often.

The artefact id is the SHA-256 of the canonical terms, so changing any term yields a different artefact;
a signature over the terms therefore covers the id as well.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from consent.authorisation.codec import canonical_json, format_time, parse_time, require, utc_seconds
from consent.authorisation.errors import InvalidTerms, WireFormatError
from consent.credit_code import InvalidCreditCode, validate_credit_code

TERMS_VERSION = 1
ID_PREFIX = "auth-"
_IDENTITY = re.compile(r"^[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A data item names one field at one provider: `source/tax:revenue_12m_cny`.
DATA_ITEM = re.compile(r"^([a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*):([a-z][a-z0-9_]{0,63})$")


def data_item(provider: str, field: str) -> str:
    """The data item naming `field` at `provider` (the form consent requests and artefacts use)."""
    item = f"{provider}:{field}"
    if not DATA_ITEM.match(item):
        raise InvalidTerms(f"bad data item {item!r}")
    return item


def parse_data_item(item: str) -> tuple[str, str]:
    """(provider, field) of a data item; raises `InvalidTerms`."""
    match = DATA_ITEM.match(item) if isinstance(item, str) else None
    if match is None:
        raise InvalidTerms(f"bad data item {item!r}: expected provider:field, e.g. source/tax:revenue_12m_cny")
    return match.group(1), match.group(2)




class Sensitivity(StrEnum):
    """How a data category is protected at its source unit."""

    PUBLIC = "PUBLIC"
    TRADE_SECRET = "TRADE_SECRET"
    PERSONAL = "PERSONAL"


class Mode(StrEnum):
    """What the grantee may do with the data: raw query, verification only, monitoring, joint modelling."""

    QUERY = "QUERY"
    VERIFY = "VERIFY"
    MONITOR = "MONITOR"
    JOINT_MODEL = "JOINT_MODEL"


class Purpose(StrEnum):
    """The business purpose the enterprise authorised; a request for another purpose is refused."""

    PRE_LOAN_REVIEW = "PRE_LOAN_REVIEW"
    LOAN_APPROVAL = "LOAN_APPROVAL"
    POST_LOAN_MONITORING = "POST_LOAN_MONITORING"
    CREDIT_LINE_RENEWAL = "CREDIT_LINE_RENEWAL"
    RISK_MODELLING = "RISK_MODELLING"


class SignatoryRole(StrEnum):
    """Who signed on behalf of the enterprise."""

    LEGAL_REPRESENTATIVE = "LEGAL_REPRESENTATIVE"
    AGENT = "AGENT"


class IdentityCheck(StrEnum):
    """How the platform checked the signatory's identity before accepting the signature."""

    FACE_RECOGNITION = "FACE_RECOGNITION"
    CA_CERTIFICATE = "CA_CERTIFICATE"
    IN_PERSON = "IN_PERSON"


def check_identity(identity: str, what: str) -> None:
    """Institution and node identities look like `kind/name` (the URI SAN path, e.g. `bank/icbc-sz`)."""
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        raise InvalidTerms(f"{what} is not a kind/name identity")


@dataclass(frozen=True)
class Subject:
    """The enterprise the data is about."""

    credit_code: str
    name: str

    def __post_init__(self) -> None:
        try:
            validate_credit_code(self.credit_code)
        except InvalidCreditCode as exc:
            raise InvalidTerms(f"subject credit code: {exc}") from exc
        if not self.name.strip():
            raise InvalidTerms("subject name is empty")


@dataclass(frozen=True)
class AuthorisedBy:
    """The natural person who authorised, in which capacity, and how their identity was checked."""

    name: str
    role: SignatoryRole
    identity_check: IdentityCheck

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidTerms("signatory name is empty")
        object.__setattr__(self, "role", SignatoryRole(self.role))
        object.__setattr__(self, "identity_check", IdentityCheck(self.identity_check))


@dataclass(frozen=True)
class DataCategory:
    """A named data category at the providers (e.g. `tax`, `social_insurance`) and its sensitivity."""

    name: str
    sensitivity: Sensitivity

    def __post_init__(self) -> None:
        if not _TOKEN.match(self.name):
            raise InvalidTerms("bad category name")
        object.__setattr__(self, "sensitivity", Sensitivity(self.sensitivity))


@dataclass(frozen=True)
class Terms:
    """What the enterprise signs. Immutable; tuples are stored sorted so equal terms have equal bytes.

    Checked on construction: valid credit code, kind/name identities, not_before < not_after, max_uses >= 1,
    day counts >= 0, at least one provider, category and period, no duplicates, aware datetimes.
    """

    subject: Subject
    authorised_by: AuthorisedBy
    grantee: str
    providers: tuple[str, ...]
    categories: tuple[DataCategory, ...]
    mode: Mode
    purpose: Purpose
    loan_application_ref: str
    created_at: datetime
    not_before: datetime
    not_after: datetime
    max_uses: int
    data_range: tuple[str, ...]
    data_life_days: int
    feedback_deadline_days: int
    version: int = field(default=TERMS_VERSION)
    # Data items granted (`provider:field`); empty grants every field of the categories (artefacts made before
    # data items existed). A non-empty list is part of the body, so it is signed and hashed into the id.
    data_items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "mode", Mode(self.mode))
        set_(self, "purpose", Purpose(self.purpose))
        for name in ("created_at", "not_before", "not_after"):
            try:
                set_(self, name, utc_seconds(getattr(self, name)))
            except WireFormatError as exc:
                raise InvalidTerms(f"{name}: {exc}") from exc
        check_identity(self.grantee, "grantee")
        providers = tuple(sorted(self.providers))
        if not providers or len(set(providers)) != len(providers):
            raise InvalidTerms("providers must be non-empty and distinct")
        for provider in providers:
            check_identity(provider, "provider")
        set_(self, "providers", providers)
        categories = tuple(sorted(self.categories, key=lambda c: c.name))
        names = [c.name for c in categories]
        if not names or len(set(names)) != len(names):
            raise InvalidTerms("categories must be non-empty with distinct names")
        set_(self, "categories", categories)
        data_range = tuple(sorted(self.data_range))
        if not data_range or len(set(data_range)) != len(data_range):
            raise InvalidTerms("data range must list at least one distinct period")
        if any(not _TOKEN.match(p) for p in data_range):
            raise InvalidTerms("bad period in data range")
        set_(self, "data_range", data_range)
        items = tuple(sorted(self.data_items))
        if len(set(items)) != len(items):
            raise InvalidTerms("data items must be distinct")
        for item in items:
            provider, _ = parse_data_item(item)
            if provider not in providers:
                raise InvalidTerms(f"data item {item} names a provider the terms do not")
        set_(self, "data_items", items)
        if not _TOKEN.match(self.loan_application_ref):
            raise InvalidTerms("bad loan application reference")
        if not self.not_before < self.not_after:
            raise InvalidTerms("validity window is empty: not_before must precede not_after")
        for name in ("max_uses", "data_life_days", "feedback_deadline_days", "version"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidTerms(f"{name} must be a non-negative integer")
        if self.max_uses < 1:
            raise InvalidTerms("max_uses must be at least 1")
        if self.version != TERMS_VERSION:
            raise InvalidTerms(f"unsupported terms version {self.version}")

    def body(self) -> dict[str, Any]:
        """The JSON object that is hashed into the id (everything except the id itself)."""
        body = {
            "version": self.version,
            "subject": {"credit_code": self.subject.credit_code, "name": self.subject.name},
            "authorised_by": {
                "name": self.authorised_by.name,
                "role": self.authorised_by.role.value,
                "identity_check": self.authorised_by.identity_check.value,
            },
            "grantee": self.grantee,
            "providers": list(self.providers),
            "categories": [{"name": c.name, "sensitivity": c.sensitivity.value} for c in self.categories],
            "mode": self.mode.value,
            "purpose": self.purpose.value,
            "loan_application_ref": self.loan_application_ref,
            "created_at": format_time(self.created_at),
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "max_uses": self.max_uses,
            "data_range": list(self.data_range),
            "data_life_days": self.data_life_days,
            "feedback_deadline_days": self.feedback_deadline_days,
        }
        if self.data_items:
            body["data_items"] = list(self.data_items)
        return body

    def grants(self, item: str) -> bool:
        """Whether a data item is granted: listed, or (no list) any item of the authorised categories."""
        return not self.data_items or item in self.data_items

    @cached_property
    def id(self) -> str:
        """`auth-` + hex SHA-256 of the canonical body: the id is a commitment to every term."""
        return ID_PREFIX + hashlib.sha256(canonical_json(self.body())).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The body plus its id, as carried inside a signed artefact."""
        return {"id": self.id, **self.body()}

    def category(self, name: str) -> DataCategory | None:
        """The authorised category with this name, if any."""
        return next((c for c in self.categories if c.name == name), None)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Terms:
        """Rebuild terms from `to_json` output; the carried id must equal the recomputed one."""
        try:
            subject = require(obj, "subject", dict)
            signatory = require(obj, "authorised_by", dict)
            terms = cls(
                version=require(obj, "version", int),
                subject=Subject(require(subject, "credit_code", str), require(subject, "name", str)),
                authorised_by=AuthorisedBy(
                    require(signatory, "name", str),
                    SignatoryRole(require(signatory, "role", str)),
                    IdentityCheck(require(signatory, "identity_check", str)),
                ),
                grantee=require(obj, "grantee", str),
                providers=tuple(_strings(require(obj, "providers", list), "providers")),
                categories=tuple(
                    DataCategory(require(c, "name", str), Sensitivity(require(c, "sensitivity", str)))
                    for c in _objects(require(obj, "categories", list), "categories")
                ),
                mode=Mode(require(obj, "mode", str)),
                purpose=Purpose(require(obj, "purpose", str)),
                loan_application_ref=require(obj, "loan_application_ref", str),
                created_at=parse_time(require(obj, "created_at", str)),
                not_before=parse_time(require(obj, "not_before", str)),
                not_after=parse_time(require(obj, "not_after", str)),
                max_uses=require(obj, "max_uses", int),
                data_range=tuple(_strings(require(obj, "data_range", list), "data_range")),
                data_life_days=require(obj, "data_life_days", int),
                feedback_deadline_days=require(obj, "feedback_deadline_days", int),
                data_items=tuple(_strings(obj["data_items"], "data_items")) if "data_items" in obj else (),
            )
        except (WireFormatError, ValueError) as exc:
            if isinstance(exc, InvalidTerms):
                raise
            raise InvalidTerms(f"malformed terms: {exc}") from exc
        claimed = require(obj, "id", str)
        if claimed != terms.id:
            raise InvalidTerms("the id does not match the hash of the terms")
        if set(obj) != {"id", *terms.body()}:
            raise InvalidTerms(f"unexpected fields ({len(set(obj) - {'id', *terms.body()})})")
        return terms


def _strings(values: list[Any], what: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise InvalidTerms(f"{what} must be a list of strings")
    return values


def _objects(values: list[Any], what: str) -> list[dict[str, Any]]:
    if not all(isinstance(v, dict) for v in values):
        raise InvalidTerms(f"{what} must be a list of objects")
    return values
