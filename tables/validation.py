"""Check raw cells against a TableSchema and type them; collect every problem before raising, load nothing on error.

Problem details never carry a value of a protected column: they state the rule ("value out of range [0, 1e12]").
PUBLIC values and ids (credit codes) may be quoted so an operator can find them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from consent.credit_code import InvalidCreditCode, invalid_credit_code_positions, validate_credit_code
from tables.errors import ROWS_SHOWN, DataValidationError, Problem, ProblemKind
from tables.schema import ColumnSchema, ColumnType, ExtraColumns, TableSchema

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Integers beyond 2^53 do not survive a float round trip; no feature of this domain needs them.
_MAX_EXACT_INT = 2.0**53
_BAD = object()


def validate_frame(schema: TableSchema, raw: pd.DataFrame, label: str) -> pd.DataFrame:
    """Return the typed frame (index = id column, columns in schema order) or raise DataValidationError."""
    present = list(raw.columns)
    if schema.id_column not in present:
        raise DataValidationError(
            label,
            [Problem(ProblemKind.MISSING_ID_COLUMN, f"the id column {schema.id_column!r} is not in the file")],
        )
    raw = raw.reset_index(drop=True)
    problems: list[Problem] = []
    missing = [c for c in schema.column_names if c not in present]
    if missing:
        problems.append(Problem(ProblemKind.MISSING_COLUMNS, f"declared columns absent from the file: {missing}"))
    declared = {schema.id_column, *schema.column_names}
    extra = [c for c in present if c not in declared]
    if extra and schema.extra_columns is ExtraColumns.ERROR:
        problems.append(
            Problem(
                ProblemKind.UNKNOWN_COLUMNS,
                f"columns not declared in the schema: {extra} (declare them, or set extra_columns = \"ignore\")",
            )
        )
    ids, id_problems = _check_ids(raw[schema.id_column])
    problems += id_problems
    typed: dict[str, pd.Series] = {}
    for column in schema.columns:
        if column.name in present:
            series, column_problems = _check_column(column, raw[column.name])
            typed[column.name] = series
            problems += column_problems
    if problems:
        raise DataValidationError(label, problems)
    frame = pd.DataFrame(typed, columns=list(schema.column_names))
    frame.index = pd.Index(ids, name=schema.id_column, dtype="string")
    return frame


def _problem(
    kind: ProblemKind, column: str, detail: str, mask: np.ndarray, shown_values: pd.Series | None = None
) -> Problem:
    """A problem naming the first rows of `mask`; `shown_values` (PUBLIC values or ids only) annotates them."""
    positions = np.flatnonzero(mask)
    first = positions[:ROWS_SHOWN]
    examples = () if shown_values is None else tuple(repr(str(shown_values.iloc[p])) for p in first)
    return Problem(
        kind, detail, column=column, rows=tuple(int(p) + 1 for p in first), count=int(positions.size),
        examples=examples,
    )


def _is_nan(v: object) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _check_ids(raw: pd.Series) -> tuple[list[str], list[Problem]]:
    name = str(raw.name)
    problems: list[Problem] = []
    cells = raw.tolist()
    null = np.array([v is None or v is pd.NA or _is_nan(v) for v in cells], dtype=bool)
    values = ["" if n else (v if isinstance(v, str) else str(v)) for v, n in zip(cells, null, strict=True)]
    if null.any():
        problems.append(_problem(ProblemKind.MISSING_ID, name, "no credit code", null))
    reasons: dict[int, str] = {}
    invalid = np.zeros(len(values), dtype=bool)
    present = np.flatnonzero(~null)
    for k in invalid_credit_code_positions([values[i] for i in present]):
        i = int(present[k])
        invalid[i] = True
        if len(reasons) < ROWS_SHOWN:
            try:
                validate_credit_code(values[i])
            except InvalidCreditCode as exc:
                reasons[i] = f"{values[i]!r}: {exc.reason}"
    if invalid.any():
        problems.append(
            Problem(
                ProblemKind.INVALID_ID, "not a valid unified social credit code", column=name,
                rows=tuple(i + 1 for i in reasons), count=int(invalid.sum()), examples=tuple(reasons.values()),
            )
        )
    series = pd.Series(values, dtype=object)
    duplicated = series.duplicated(keep=False).to_numpy() & ~null
    if duplicated.any():
        distinct = series[duplicated].nunique()
        detail = f"{distinct} id{'s occur' if distinct > 1 else ' occurs'} more than once"
        problems.append(_problem(ProblemKind.DUPLICATE_ID, name, detail, duplicated, shown_values=series))
    return values, problems


def _check_column(column: ColumnSchema, raw: pd.Series) -> tuple[pd.Series, list[Problem]]:
    null_in = raw.isna().to_numpy()
    typed, bad = _COERCERS[column.type](raw)
    bad = bad & ~null_in
    problems: list[Problem] = []
    # Only PUBLIC values may be quoted back; for protected columns the rows alone locate the problem.
    shown = raw if column.sensitivity.is_public else None
    if bad.any():
        problems.append(_problem(ProblemKind.BAD_TYPE, column.name, f"not a valid {column.type.value}", bad, shown))
    if not column.nullable and null_in.any():
        problems.append(
            _problem(ProblemKind.NULL_NOT_ALLOWED, column.name, "missing value in a non-nullable column", null_in)
        )
    valid = ~null_in & ~bad
    if column.min is not None or column.max is not None:
        out = valid & _outside(typed, column)
        if out.any():
            detail = f"value out of range [{_fmt(column.min, '-inf')}, {_fmt(column.max, 'inf')}]"
            problems.append(_problem(ProblemKind.OUT_OF_RANGE, column.name, detail, out, shown))
    if column.allowed is not None:
        outside = valid & ~typed.isin(column.allowed).fillna(False).to_numpy(dtype=bool)
        if outside.any():
            detail = f"value not among the allowed values {list(column.allowed)}"
            problems.append(_problem(ProblemKind.NOT_ALLOWED, column.name, detail, outside, shown))
    return typed, problems


def _fmt(bound: object, unbounded: str) -> str:
    if bound is None:
        return unbounded
    if isinstance(bound, float):
        return f"{bound:g}".replace("e+", "e")
    return str(bound)


def _outside(typed: pd.Series, column: ColumnSchema) -> np.ndarray:
    if column.type is ColumnType.DATE:
        values = typed
        lo = pd.Timestamp(column.min) if column.min is not None else None
        hi = pd.Timestamp(column.max) if column.max is not None else None
    else:
        values = typed.astype("float64")
        lo, hi = column.min, column.max
    out = pd.Series(False, index=typed.index)
    if lo is not None:
        out |= (values < lo).fillna(False)
    if hi is not None:
        out |= (values > hi).fillna(False)
    return out.to_numpy(dtype=bool)


def _all_strings(raw: pd.Series) -> bool:
    """True when every non-null cell is a str (always the case for CSV input): the vectorised paths apply."""
    return pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")


def _to_float(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return np.full(len(raw), np.nan), np.ones(len(raw), dtype=bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64").to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(raw), dtype=bool)
    if _all_strings(raw):
        boolish = np.zeros(len(raw), dtype=bool)
        cleaned = raw
    else:
        # True/False are not numbers here, even though Python would count them as 1/0.
        boolish = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        cleaned = raw.map(lambda v: v.strip() if isinstance(v, str) else v).where(~boolish, None)
    values = pd.to_numeric(cleaned, errors="coerce").astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    return values, np.isnan(values) | boolish


def _coerce_float(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    values, bad = _to_float(raw)
    bad = bad | np.isinf(values)
    return pd.Series(np.where(bad, np.nan, values), dtype="float64"), bad


def _coerce_int(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_integer_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("Int64").reset_index(drop=True), np.zeros(len(raw), dtype=bool)
    values, bad = _to_float(raw)
    with np.errstate(invalid="ignore"):
        bad = bad | ~np.isfinite(values) | (np.abs(values) > _MAX_EXACT_INT) | (np.floor(values) != values)
    typed = pd.array(np.where(bad, 0.0, values).astype("int64"), dtype="Int64")
    typed[bad] = pd.NA
    return pd.Series(typed), bad


def _coerce_string(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if not _all_strings(raw):
        raw = raw.map(lambda v: v if isinstance(v, str) or v is None or v is pd.NA else (None if _is_nan(v) else str(v)))
    return pd.Series(raw.tolist(), dtype="string"), np.zeros(len(raw), dtype=bool)


def _as_bool(v: object) -> object:
    if v is None or v is pd.NA or _is_nan(v):
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and v in (0, 1):
        return bool(v)
    text = str(v).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return _BAD


def _coerce_bool(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if _all_strings(raw):
        text = pd.Series(raw.tolist(), dtype="string").str.strip().str.lower()
        true = text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
        false = text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)
        null = text.isna().to_numpy()
        typed = pd.Series(pd.array(true, dtype="boolean"))
        typed[~(true | false)] = pd.NA
        return typed, ~(true | false | null)
    parsed = [_as_bool(v) for v in raw.tolist()]
    bad = np.array([p is _BAD for p in parsed], dtype=bool)
    return pd.Series([None if p is _BAD else p for p in parsed], dtype="boolean"), bad


def _as_date(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT or _is_nan(v):
        return None
    if isinstance(v, dt.datetime):  # includes pd.Timestamp
        return v.date() if v.time() == dt.time() and v.tzinfo is None else _BAD
    if isinstance(v, dt.date):
        return v
    if isinstance(v, np.datetime64):
        return _as_date(pd.Timestamp(v))
    if isinstance(v, str) and _ISO_DATE.match(v.strip()):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            return _BAD
    return _BAD


def _coerce_date(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if _all_strings(raw):
        text = pd.Series(raw.tolist(), dtype="string").str.strip()
        shaped = text.str.fullmatch(_ISO_DATE.pattern[1:-1]).fillna(False).to_numpy(dtype=bool)
        dates = pd.to_datetime(text.where(shaped, None), format="%Y-%m-%d", errors="coerce")
        bad = text.notna().to_numpy() & dates.isna().to_numpy()
        return pd.Series(dates, dtype="datetime64[s]"), bad
    parsed = [_as_date(v) for v in raw.tolist()]
    bad = np.array([p is _BAD for p in parsed], dtype=bool)
    cleaned = [None if p is _BAD or p is None else pd.Timestamp(p) for p in parsed]
    return pd.Series(pd.to_datetime(pd.Series(cleaned, dtype=object)), dtype="datetime64[s]"), bad


_COERCERS: dict[ColumnType, Callable[[pd.Series], tuple[pd.Series, np.ndarray]]] = {
    ColumnType.INT: _coerce_int,
    ColumnType.FLOAT: _coerce_float,
    ColumnType.STRING: _coerce_string,
    ColumnType.BOOL: _coerce_bool,
    ColumnType.DATE: _coerce_date,
}
