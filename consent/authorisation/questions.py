"""The questions a bank may ask a source node, and a small safe predicate language (parsed, never evaluated
as code): `field op constant` with op in {>=, >, <=, <, ==, !=}.

Numbers travel as canonical decimal strings (no floats on the wire), so signer and verifier agree on bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from consent.authorisation.catalogue import FIELD_NAME, ValueType
from consent.authorisation.codec import require
from consent.authorisation.errors import InvalidQuestion

MAX_NUMBER_CHARS = 40
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
_STRING = re.compile(r"^[A-Za-z0-9 _.:/-]{0,64}$")
_PREDICATE = re.compile(
    r"^\s*(?P<field>[a-z][a-z0-9_]{0,63})\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<constant>.+?)\s*$"
)


class QuestionKind(StrEnum):
    """PREDICATE and MATCH answer one bit; RAW returns the stored value."""

    PREDICATE = "PREDICATE"
    MATCH = "MATCH"
    RAW = "RAW"


class Comparison(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="


ORDERING = frozenset({Comparison.GE, Comparison.GT, Comparison.LE, Comparison.LT})


def number_text(value: Decimal) -> str:
    """The canonical decimal spelling: no exponent, no trailing zeros, no leading '+', '-0' is '0'."""
    if not value.is_finite():
        raise InvalidQuestion("numbers must be finite")
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def parse_number(text: object) -> Decimal:
    """A canonical decimal string to `Decimal`; other spellings are refused so bytes stay unique."""
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS or not _NUMBER.match(text):
        raise InvalidQuestion("not a canonical decimal")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidQuestion("not a decimal") from exc
    if number_text(value) != text:
        raise InvalidQuestion("non-canonical decimal")
    return value


Constant = Decimal | str | bool


@dataclass(frozen=True)
class Predicate:
    """`field op constant`; ordering operators need a number, strings and booleans allow == and != only."""

    field: str
    op: Comparison
    constant: Constant

    kind = QuestionKind.PREDICATE

    def __post_init__(self) -> None:
        _check_field(self.field)
        object.__setattr__(self, "op", Comparison(self.op))
        if isinstance(self.constant, bool) or isinstance(self.constant, str):
            if self.op in ORDERING:
                raise InvalidQuestion(f"operator {self.op.value} needs a number")
            if isinstance(self.constant, str) and not _STRING.match(self.constant):
                raise InvalidQuestion("string constants are short and plain")
        elif isinstance(self.constant, int | Decimal):
            object.__setattr__(self, "constant", parse_number(number_text(Decimal(self.constant))))
        else:
            raise InvalidQuestion("unsupported constant")

    @property
    def value_type(self) -> ValueType:
        if isinstance(self.constant, bool):
            return ValueType.BOOL
        return ValueType.STRING if isinstance(self.constant, str) else ValueType.NUMBER

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.constant, Decimal):
            constant: Any = number_text(self.constant)
        else:
            constant = self.constant
        return {
            "kind": self.kind.value,
            "field": self.field,
            "op": self.op.value,
            "type": self.value_type.value,
            "constant": constant,
        }

    def __str__(self) -> str:
        return f"{self.field} {self.op.value} {self.to_json()['constant']!r}"


@dataclass(frozen=True)
class MatchCheck:
    """Does the declared number match the stored one within an absolute tolerance (e.g. headcount +- 2)?"""

    field: str
    declared: Decimal
    tolerance: Decimal

    kind = QuestionKind.MATCH
    value_type = ValueType.NUMBER

    def __post_init__(self) -> None:
        _check_field(self.field)
        for name in ("declared", "tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                raise InvalidQuestion(f"{name} must be a number")
            object.__setattr__(self, name, parse_number(number_text(Decimal(value))))
        if self.tolerance < 0:
            raise InvalidQuestion("tolerance must be non-negative")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "field": self.field,
            "declared": number_text(self.declared),
            "tolerance": number_text(self.tolerance),
        }


@dataclass(frozen=True)
class RawDetail:
    """The stored value itself; only under QUERY mode on the field's category."""

    field: str

    kind = QuestionKind.RAW
    value_type = None

    def __post_init__(self) -> None:
        _check_field(self.field)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "field": self.field}


Question = Predicate | MatchCheck | RawDetail


def parse_predicate(text: str) -> Predicate:
    """Parse `tax_paid_2025 >= 1000000`, `industry == "C13"`, `has_arrears == false`. No eval, no names
    other than the one field, no arithmetic."""
    found = _PREDICATE.match(text)
    if found is None:
        raise InvalidQuestion("not a predicate: expected <field> <operator> <constant>")
    raw = found["constant"]
    constant: Constant
    if raw in ("true", "false"):
        constant = raw == "true"
    elif len(raw) >= 2 and raw[0] == raw[-1] == '"':
        constant = raw[1:-1]
    else:
        try:
            constant = Decimal(raw)
        except InvalidOperation as exc:
            raise InvalidQuestion("bad constant") from exc
        if not constant.is_finite():
            raise InvalidQuestion("numbers must be finite")
    return Predicate(found["field"], Comparison(found["op"]), constant)


def question_from_json(obj: dict[str, Any]) -> Question:
    """Inverse of each question's `to_json`; refuses unknown kinds, extra fields and non-canonical numbers."""
    try:
        kind = QuestionKind(require(obj, "kind", str))
    except ValueError as exc:
        raise InvalidQuestion(str(exc)) from exc
    try:
        if kind is QuestionKind.PREDICATE:
            _exact_keys(obj, {"kind", "field", "op", "type", "constant"})
            value_type = ValueType(require(obj, "type", str))
            raw = obj.get("constant")
            constant: Constant
            if value_type is ValueType.NUMBER:
                constant = parse_number(raw)
            elif value_type is ValueType.BOOL and isinstance(raw, bool):
                constant = raw
            elif value_type is ValueType.STRING and isinstance(raw, str):
                constant = raw
            else:
                raise InvalidQuestion("constant does not match its declared type")
            return Predicate(require(obj, "field", str), Comparison(require(obj, "op", str)), constant)
        if kind is QuestionKind.MATCH:
            _exact_keys(obj, {"kind", "field", "declared", "tolerance"})
            return MatchCheck(
                require(obj, "field", str), parse_number(obj.get("declared")), parse_number(obj.get("tolerance"))
            )
        _exact_keys(obj, {"kind", "field"})
        return RawDetail(require(obj, "field", str))
    except ValueError as exc:  # includes WireFormatError and bad enum values
        raise InvalidQuestion(str(exc)) from exc


def _check_field(name: object) -> None:
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise InvalidQuestion("bad field name")


def _exact_keys(obj: dict[str, Any], keys: set[str]) -> None:
    if set(obj) != keys:
        raise InvalidQuestion(f"question fields are not exactly {sorted(keys)}")
