"""The declared schema of a source unit's table, parsed from TOML and checked before any data is read."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from tables.errors import SchemaError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_KEYS = {"name", "id_column", "category", "description", "extra_columns"}
_COLUMN_KEYS = {"name", "type", "min", "max", "nullable", "sensitivity", "category", "description", "allowed"}


class ColumnType(StrEnum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    BOOL = "bool"
    DATE = "date"


class Sensitivity(StrEnum):
    """PUBLIC may be shown and pushed; everything else is protected (TRADE_SECRET and PERSONAL refine PROTECTED)."""

    PUBLIC = "PUBLIC"
    PROTECTED = "PROTECTED"
    TRADE_SECRET = "TRADE_SECRET"
    PERSONAL = "PERSONAL"

    @property
    def is_public(self) -> bool:
        return self is Sensitivity.PUBLIC


class ExtraColumns(StrEnum):
    """What to do with a column present in the file but not declared: refuse the file, or drop the column unread."""

    ERROR = "error"
    IGNORE = "ignore"


Bound = float | dt.date


@dataclass(frozen=True)
class ColumnSchema:
    """One declared feature column; `min`/`max` are inclusive, `allowed` lists the values of a categorical string."""

    name: str
    type: ColumnType
    sensitivity: Sensitivity
    category: str
    nullable: bool = False
    min: Bound | None = None
    max: Bound | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""

    def canonical(self) -> dict[str, Any]:
        def bound(b: Bound | None) -> str | float | None:
            return b.isoformat() if isinstance(b, dt.date) else b

        return {
            "name": self.name,
            "type": self.type.value,
            "sensitivity": self.sensitivity.value,
            "category": self.category,
            "nullable": self.nullable,
            "min": bound(self.min),
            "max": bound(self.max),
            "allowed": list(self.allowed) if self.allowed is not None else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class TableSchema:
    """A table: its name, the id column (unified social credit codes), its default data category, its columns."""

    name: str
    id_column: str
    category: str
    columns: tuple[ColumnSchema, ...]
    extra_columns: ExtraColumns = ExtraColumns.ERROR
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def canonical(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_column": self.id_column,
            "category": self.category,
            "extra_columns": self.extra_columns.value,
            "description": self.description,
            "columns": [c.canonical() for c in self.columns],
        }

    @property
    def sha256(self) -> str:
        """Hash of the whole declaration (canonical JSON), so peers can tell which schema a node runs."""
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def load_schema(path: Path) -> TableSchema:
    """Read and check a TOML schema file; raise SchemaError naming the file and the first broken rule."""
    label = str(path)
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise SchemaError(label, "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(label, f"not valid TOML ({exc})") from None
    return parse_schema(document, source=label)


def parse_schema(document: Mapping[str, Any], *, source: str = "<schema>") -> TableSchema:
    """Check a parsed TOML document ([table] + [[columns]]) and build the frozen TableSchema."""

    def fail(reason: str) -> SchemaError:
        return SchemaError(source, reason)

    unknown_top = set(document) - {"table", "columns"}
    if unknown_top:
        raise fail(f"unknown top-level keys {sorted(unknown_top)}")
    table = document.get("table")
    if not isinstance(table, Mapping):
        raise fail("missing [table] section")
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        raise fail(f"unknown keys in [table]: {sorted(unknown)}")
    name = _identifier(table.get("name"), "[table] name", fail)
    id_column = _identifier(table.get("id_column"), "[table] id_column", fail)
    category = _identifier(table.get("category"), "[table] category", fail)
    try:
        extra = ExtraColumns(table.get("extra_columns", "error"))
    except ValueError:
        raise fail("[table] extra_columns must be 'error' or 'ignore'") from None
    raw_columns = document.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise fail("declare at least one [[columns]] entry")
    columns = tuple(_parse_column(raw, i, category, fail) for i, raw in enumerate(raw_columns, start=1))
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise fail(f"columns declared twice: {duplicates}")
    if id_column in names:
        raise fail(f"id column {id_column!r} must not be declared again in [[columns]]")
    return TableSchema(
        name=name,
        id_column=id_column,
        category=category,
        columns=columns,
        extra_columns=extra,
        description=str(table.get("description", "")),
    )


def _identifier(value: object, what: str, fail: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise fail(f"{what} must be an identifier (letters, digits, underscore), got {value!r}")
    return value


def _parse_column(raw: object, index: int, table_category: str, fail: Any) -> ColumnSchema:
    if not isinstance(raw, Mapping):
        raise fail(f"[[columns]] entry {index} is not a table")
    where = f"[[columns]] entry {index}"
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise fail(f"unknown keys in {where}: {sorted(unknown)}")
    name = _identifier(raw.get("name"), f"{where} name", fail)
    where = f"column {name!r}"
    try:
        ctype = ColumnType(raw.get("type"))
    except ValueError:
        raise fail(f"{where}: type must be one of {[t.value for t in ColumnType]}, got {raw.get('type')!r}") from None
    try:
        sensitivity = Sensitivity(raw.get("sensitivity", "PROTECTED"))
    except ValueError:
        raise fail(
            f"{where}: sensitivity must be one of {[s.value for s in Sensitivity]}, got {raw.get('sensitivity')!r}"
        ) from None
    nullable = raw.get("nullable", False)
    if not isinstance(nullable, bool):
        raise fail(f"{where}: nullable must be true or false")
    category = _identifier(raw.get("category", table_category), f"{where} category", fail)
    lo = _bound(raw.get("min"), ctype, f"{where} min", fail)
    hi = _bound(raw.get("max"), ctype, f"{where} max", fail)
    if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
        raise fail(f"{where}: min {lo} is greater than max {hi}")
    allowed = raw.get("allowed")
    if allowed is not None:
        if ctype is not ColumnType.STRING:
            raise fail(f"{where}: allowed values apply to string columns only")
        if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) for a in allowed):
            raise fail(f"{where}: allowed must be a non-empty list of strings")
        allowed = tuple(allowed)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail(f"{where}: description must be a string")
    return ColumnSchema(
        name=name,
        type=ctype,
        sensitivity=sensitivity,
        category=category,
        nullable=nullable,
        min=lo,
        max=hi,
        allowed=allowed,
        description=description,
    )


def _bound(value: object, ctype: ColumnType, what: str, fail: Any) -> Bound | None:
    if value is None:
        return None
    if ctype in (ColumnType.INT, ColumnType.FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise fail(f"{what} must be a finite number")
        return float(value)
    if ctype is ColumnType.DATE:
        if isinstance(value, dt.datetime):
            raise fail(f"{what} must be a date without time")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise fail(f"{what} must be a date (YYYY-MM-DD)")
    raise fail(f"{what}: min/max apply to int, float and date columns only")
