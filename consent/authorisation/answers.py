"""Answering an authorised question from the node's table: a one-bit check or, under QUERY, the raw value.

The table is an injectable lookup `(credit_code, field) -> value` (a dict in tests, the loaded table in the
node); `None` or NaN means "no record", which the answer reports as such rather than guessing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from consent.authorisation.catalogue import ValueType
from consent.authorisation.codec import format_time, parse_time, require, utc_seconds
from consent.authorisation.errors import InvalidQuestion, WireFormatError
from consent.authorisation.questions import (
    Comparison,
    MatchCheck,
    Question,
    QuestionKind,
    RawDetail,
    number_text,
    parse_number,
    question_from_json,
)

TableLookup = Callable[[str, str], object]


def dict_lookup(table: Mapping[str, Mapping[str, object]]) -> TableLookup:
    """A lookup over `{credit_code: {field: value}}`; a missing enterprise or field reads as no record."""

    def lookup(credit_code: str, field: str) -> object:
        return table.get(credit_code, {}).get(field)

    return lookup


@dataclass(frozen=True)
class RawValue:
    """A stored value in canonical text form: numbers as decimal strings, `None` when there is no record."""

    value_type: ValueType
    value: str | bool | None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.value_type.value, "value": self.value}


CheckOutcome = bool | None
Result = CheckOutcome | RawValue


def normalise(value: object) -> Decimal | str | bool | None:
    """Table values to comparable Python values; numpy scalars unwrap, NaN is no record."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, Decimal | str | bytes):
        value = value.item()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else Decimal(repr(value))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    raise InvalidQuestion(f"unsupported stored value type {type(value).__name__}")


_COMPARE: dict[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.GE: lambda a, b: a >= b,
    Comparison.GT: lambda a, b: a > b,
    Comparison.LE: lambda a, b: a <= b,
    Comparison.LT: lambda a, b: a < b,
    Comparison.EQ: lambda a, b: a == b,
    Comparison.NE: lambda a, b: a != b,
}


def evaluate(question: Question, stored: object, value_type: ValueType) -> Result:
    """The answer to `question` given the stored value of its field (declared as `value_type`)."""
    value = normalise(stored)
    if isinstance(question, RawDetail):
        if value is None:
            return RawValue(value_type, None)
        return RawValue(value_type, number_text(value) if isinstance(value, Decimal) else value)
    if value is None:
        return None
    if not _has_type(value, value_type):
        raise InvalidQuestion(f"stored value of {question.field} is not a {value_type.value}")
    if isinstance(question, MatchCheck):
        return abs(question.declared - value) <= question.tolerance
    return _COMPARE[question.op](value, question.constant)


def _has_type(value: Decimal | str | bool, value_type: ValueType) -> bool:
    if value_type is ValueType.BOOL:
        return isinstance(value, bool)
    if value_type is ValueType.STRING:
        return isinstance(value, str)
    return isinstance(value, Decimal)


@dataclass(frozen=True)
class Answer:
    """The source node's answer, signed by the node and sealed to the bank. `receipt` is the audit log's
    inclusion receipt for the use (or None where no log is wired)."""

    request_id: str
    authorisation_id: str
    provider: str
    requester: str
    question: Question
    result: Result
    use_number: int
    answered_at: datetime
    receipt: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "answered_at", utc_seconds(self.answered_at))

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.result, RawValue):
            result: dict[str, Any] = {"kind": "RAW", **self.result.to_json()}
        else:
            result = {"kind": "CHECK", "holds": self.result}
        return {
            "request_id": self.request_id,
            "authorisation_id": self.authorisation_id,
            "provider": self.provider,
            "requester": self.requester,
            "question": self.question.to_json(),
            "result": result,
            "use_number": self.use_number,
            "answered_at": format_time(self.answered_at),
            "receipt": self.receipt,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Answer:
        try:
            result_obj = require(obj, "result", dict)
            result: Result
            if result_obj.get("kind") == "RAW":
                value_type = ValueType(require(result_obj, "type", str))
                value = result_obj.get("value")
                if value_type is ValueType.NUMBER and value is not None:
                    parse_number(value)
                result = RawValue(value_type, value)
            elif result_obj.get("kind") == "CHECK" and isinstance(result_obj.get("holds"), bool | None):
                result = result_obj.get("holds")
            else:
                raise WireFormatError("bad result")
            receipt = obj.get("receipt")
            if receipt is not None and not isinstance(receipt, dict):
                raise WireFormatError("receipt must be an object or null")
            question = question_from_json(require(obj, "question", dict))
            if (question.kind is QuestionKind.RAW) != isinstance(result, RawValue):
                raise WireFormatError("result kind does not fit the question")
            return cls(
                request_id=require(obj, "request_id", str),
                authorisation_id=require(obj, "authorisation_id", str),
                provider=require(obj, "provider", str),
                requester=require(obj, "requester", str),
                question=question,
                result=result,
                use_number=require(obj, "use_number", int),
                answered_at=parse_time(require(obj, "answered_at", str)),
                receipt=receipt,
            )
        except (ValueError, InvalidQuestion) as exc:
            raise WireFormatError(f"malformed answer: {exc}") from exc


