"""Self-declared information (自愿填报) with a credit commitment (信用承诺), signed by the enterprise.

An enterprise may add what no source unit holds: its financing need, revenue band, headcount, main products and
certifications. It signs the declaration together with the platform's commitment text (that the information is
true, accurate and complete, on pain of credit sanctions), its signatory, the time, the version it makes and the
one it supersedes, and whether the declaration is public or shown only under consent. Corrections are new
versions; a withdrawal is a signed instruction that makes a new, empty version. Reports show declarations apart
from the source units' authoritative data, flagged as self-declared.

The schema (every field optional, at least one set):

| field | form |
|---|---|
| `financing_need_cny` | decimal string, 0 to 10^13 |
| `financing_purpose` | WORKING_CAPITAL, EQUIPMENT, EXPANSION, TRADE_FINANCE, TECHNOLOGY, OTHER |
| `revenue_band` | BELOW_1M, 1M_10M, 10M_50M, 50M_200M, ABOVE_200M (CNY per year) |
| `employees` | integer, 0 to 1,000,000 |
| `main_products` | up to 5 texts of 1 to 64 characters |
| `certifications` | up to 10 of {name, issuer, number?, valid_until? (YYYY-MM-DD)} |
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.authorisation.codec import (
    canonical_json,
    format_time,
    parse_canonical,
    parse_time,
    require,
    utc_seconds,
)
from consent.authorisation.errors import InvalidQuestion, WireFormatError
from consent.authorisation.questions import number_text, parse_number
from consent.authorisation.signatures import Domain, SignedPayload, key_id, sign, verify
from consent.authorisation.terms import SignatoryRole
from consent.credit_code import is_valid_credit_code

COMMITMENT_VERSION = 1
COMMITMENT_TEXT = (
    "本企业承诺所填报信息真实、准确、完整，如有虚假，愿承担相应法律责任并接受信用惩戒。"
    " The enterprise commits that the information it declares is true, accurate and complete, and accepts legal"
    " liability and credit sanctions for any falsehood."
)
REVENUE_BANDS = ("BELOW_1M", "1M_10M", "10M_50M", "50M_200M", "ABOVE_200M")
FINANCING_PURPOSES = ("WORKING_CAPITAL", "EQUIPMENT", "EXPANSION", "TRADE_FINANCE", "TECHNOLOGY", "OTHER")
MAX_FINANCING = Decimal(10) ** 13
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_PRODUCT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECLARATION_ID = re.compile(r"decl-[0-9a-f]{16}")
_STATEMENT_FIELDS = {"credit_code", "declaration", "visibility", "commitment", "signatory", "version", "supersedes",
                     "signed_at", "key_id", "nonce"}


class Visibility(StrEnum):
    """PUBLIC: in every reader's report of the enterprise. CONSENT: only to a bank under a consent naming the
    data item `platform/main:self_declared`."""

    PUBLIC = "PUBLIC"
    CONSENT = "CONSENT"


@dataclass(frozen=True)
class Certification:
    name: str
    issuer: str
    number: str | None = None
    valid_until: str | None = None

    def __post_init__(self) -> None:
        if not _TEXT.fullmatch(self.name) or not _TEXT.fullmatch(self.issuer):
            raise WireFormatError("a certification needs a name and an issuer of 1 to 100 characters")
        if self.number is not None and not _NUMBER.fullmatch(self.number):
            raise WireFormatError("a certification number is letters, digits and ./-_ (at most 64)")
        if self.valid_until is not None and not _DATE.fullmatch(self.valid_until):
            raise WireFormatError("valid_until is a date YYYY-MM-DD")

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "issuer": self.issuer}
        if self.number is not None:
            out["number"] = self.number
        if self.valid_until is not None:
            out["valid_until"] = self.valid_until
        return out


@dataclass(frozen=True)
class Declaration:
    """What the enterprise declares (see the module docstring for the schema)."""

    financing_need_cny: Decimal | None = None
    financing_purpose: str | None = None
    revenue_band: str | None = None
    employees: int | None = None
    main_products: tuple[str, ...] = field(default=())
    certifications: tuple[Certification, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "main_products", tuple(self.main_products))
        object.__setattr__(self, "certifications", tuple(self.certifications))
        if self.financing_need_cny is not None and not Decimal(0) <= self.financing_need_cny <= MAX_FINANCING:
            raise WireFormatError("financing_need_cny must be within [0, 10^13]")
        if self.financing_purpose is not None and self.financing_purpose not in FINANCING_PURPOSES:
            raise WireFormatError(f"financing_purpose is one of {', '.join(FINANCING_PURPOSES)}")
        if self.revenue_band is not None and self.revenue_band not in REVENUE_BANDS:
            raise WireFormatError(f"revenue_band is one of {', '.join(REVENUE_BANDS)}")
        if self.employees is not None and (isinstance(self.employees, bool) or not 0 <= self.employees <= 1_000_000):
            raise WireFormatError("employees must be an integer within [0, 1000000]")
        if len(self.main_products) > 5 or not all(isinstance(p, str) and _PRODUCT.fullmatch(p)
                                                  for p in self.main_products):
            raise WireFormatError("at most 5 main products of 1 to 64 characters")
        if len(self.certifications) > 10:
            raise WireFormatError("at most 10 certifications")
        if not self.to_json():
            raise WireFormatError("a declaration sets at least one field")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.financing_need_cny is not None:
            out["financing_need_cny"] = number_text(self.financing_need_cny)
        for name in ("financing_purpose", "revenue_band", "employees"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.main_products:
            out["main_products"] = list(self.main_products)
        if self.certifications:
            out["certifications"] = [c.to_json() for c in self.certifications]
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Declaration:
        unknown = set(obj) - {"financing_need_cny", "financing_purpose", "revenue_band", "employees", "main_products",
                              "certifications"}
        if unknown:
            raise WireFormatError("unknown declaration fields")
        try:
            need = obj.get("financing_need_cny")
            certifications = obj.get("certifications", [])
            if not isinstance(certifications, list) or not all(isinstance(c, dict) for c in certifications):
                raise WireFormatError("certifications must be a list of objects")
            return cls(
                financing_need_cny=None if need is None else parse_number(need),
                financing_purpose=obj.get("financing_purpose"), revenue_band=obj.get("revenue_band"),
                employees=obj.get("employees"), main_products=tuple(obj.get("main_products", [])),
                certifications=tuple(Certification(require(c, "name", str), require(c, "issuer", str),
                                                   c.get("number"), c.get("valid_until")) for c in certifications))
        except (InvalidQuestion, TypeError) as exc:
            raise WireFormatError(f"malformed declaration: {exc}") from None


@dataclass(frozen=True)
class DeclarationStatement:
    """What the enterprise signs: the declaration, the commitment, who commits, which version."""

    credit_code: str
    declaration: Declaration
    visibility: Visibility
    signatory: str
    signatory_role: SignatoryRole
    version: int
    supersedes: str | None
    signed_at: datetime
    key_id: str
    nonce: str
    commitment_version: int = COMMITMENT_VERSION
    commitment_text: str = COMMITMENT_TEXT

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", Visibility(self.visibility))
        object.__setattr__(self, "signatory_role", SignatoryRole(self.signatory_role))
        object.__setattr__(self, "signed_at", utc_seconds(self.signed_at))
        if not is_valid_credit_code(self.credit_code):
            raise WireFormatError("credit code is not valid")
        if not _TEXT.fullmatch(self.signatory):
            raise WireFormatError("signatory must be a name of 1 to 100 characters")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise WireFormatError("version must be a positive integer")
        if self.supersedes is not None and not _DECLARATION_ID.fullmatch(self.supersedes):
            raise WireFormatError("supersedes must be a declaration id")
        if not re.fullmatch(r"[0-9a-f]{16}", self.key_id) or not re.fullmatch(r"[0-9a-f]{32}", self.nonce):
            raise WireFormatError("key id or nonce malformed")

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code, "declaration": self.declaration.to_json(),
            "visibility": self.visibility.value,
            "commitment": {"version": self.commitment_version, "text": self.commitment_text},
            "signatory": {"name": self.signatory, "role": self.signatory_role.value}, "version": self.version,
            "supersedes": self.supersedes, "signed_at": format_time(self.signed_at), "key_id": self.key_id,
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DeclarationStatement:
        if set(obj) != _STATEMENT_FIELDS:
            raise WireFormatError("unexpected declaration statement fields")
        commitment, signatory = require(obj, "commitment", dict), require(obj, "signatory", dict)
        supersedes = obj["supersedes"]
        if supersedes is not None and not isinstance(supersedes, str):
            raise WireFormatError("supersedes must be a declaration id or null")
        try:
            return cls(require(obj, "credit_code", str), Declaration.from_json(require(obj, "declaration", dict)),
                       Visibility(require(obj, "visibility", str)), require(signatory, "name", str),
                       SignatoryRole(require(signatory, "role", str)), require(obj, "version", int), supersedes,
                       parse_time(require(obj, "signed_at", str)), require(obj, "key_id", str),
                       require(obj, "nonce", str), require(commitment, "version", int),
                       require(commitment, "text", str))
        except ValueError as exc:
            if isinstance(exc, WireFormatError):
                raise
            raise WireFormatError(f"malformed declaration statement: {exc}") from None


@dataclass(frozen=True)
class SignedDeclaration(SignedPayload):
    """The canonical declaration statement as signed, and the enterprise's signature."""

    @property
    def statement(self) -> DeclarationStatement:
        return DeclarationStatement.from_json(parse_canonical(self.payload))

    def verify_with(self, key: Ed25519PublicKey) -> DeclarationStatement:
        statement = self.statement
        verify(key, Domain.DECLARATION, self.payload, self.signature)
        return statement


def sign_declaration(declaration: Declaration, *, credit_code: str, key: Ed25519PrivateKey, signatory: str,
                     signatory_role: SignatoryRole, version: int, supersedes: str | None,
                     visibility: Visibility, now: datetime, rng: Callable[[int], bytes] = os.urandom,
                     commitment: Sequence[object] = (COMMITMENT_VERSION, COMMITMENT_TEXT)) -> SignedDeclaration:
    """The enterprise's signed declaration with the credit commitment (the commitment is what the platform
    shows; pass the text it showed)."""
    version_of_text, text = commitment
    statement = DeclarationStatement(credit_code, declaration, visibility, signatory, signatory_role, version,
                                     supersedes, now, key_id(key.public_key()), rng(16).hex(), int(version_of_text),
                                     str(text))
    payload = canonical_json(statement.to_json())
    return SignedDeclaration(payload, sign(key, Domain.DECLARATION, payload))
