"""Reading what people type into console forms and filters: dates, credit codes, choices.

Each reader returns the value or raises `ConsoleError` with a catalogue key, so a page can show the problem
in the reader's language without echoing what was typed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from consent.credit_code import InvalidCreditCode, validate_credit_code
from platform_node.console.errors import ConsoleError
from platform_node.statistics.financing import CHINA_STANDARD_TIME


def date_or_time(text: str | None, *, end: bool = False) -> datetime | None:
    """`2025-03-01` (that day's start, China time; with `end`, the next day's start, so a range includes the
    day) or an RFC 3339 time with its offset; empty is None."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(0), CHINA_STANDARD_TIME)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConsoleError(422, "common.invalid_date", code="INVALID_DATE") from None
    if moment.tzinfo is None:
        raise ConsoleError(422, "common.invalid_date", code="INVALID_DATE")
    return moment


def credit_code(text: str | None, *, required: bool = False) -> str | None:
    text = (text or "").strip().upper()
    if not text:
        if required:
            raise ConsoleError(422, "common.invalid_code", code="INVALID_CREDIT_CODE", reason="-")
        return None
    try:
        validate_credit_code(text)
    except InvalidCreditCode as exc:
        raise ConsoleError(422, "common.invalid_code", code="INVALID_CREDIT_CODE", reason=exc.public_reason) from None
    return text


def choice(text: str | None, allowed: tuple[str, ...] | list[str]) -> str | None:
    """One of `allowed`, or None for empty or anything else (a filter that does not apply)."""
    text = (text or "").strip()
    return text if text in allowed else None


def decimal(text: str | None) -> Decimal | None:
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConsoleError(422, "common.error", code="INVALID_NUMBER") from None
    if not value.is_finite():
        raise ConsoleError(422, "common.error", code="INVALID_NUMBER")
    return value


def tri_state(text: str | None, *, true: str, false: str) -> bool | None:
    """A three-way choice (true, false, not said) from a select's value."""
    return True if text == true else False if text == false else None


def date_text(moment: datetime | None) -> str:
    """How a filter date is shown back in its field."""
    return "" if moment is None else moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d")


def return_path(target: object, under: str) -> str | None:
    """Where to go after signing in: a path of this server below `under`, never another host (an open
    redirect) or a backslash some browsers read as a host; anything else (a file field too) is None."""
    if not isinstance(target, str) or not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(under) or "\\" in target:
        return None
    return target
