"""Typed errors of data intake: a bad schema declaration, or data that does not match its schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from errors import InvalidInput

# How many offending rows a problem names; the rest are counted, not listed.
ROWS_SHOWN = 5


class ProblemKind(StrEnum):
    """What kind of rule a table broke; stable strings that callers and tests may match on."""

    MALFORMED_FILE = "malformed_file"
    EMPTY_FILE = "empty_file"
    MISSING_ID_COLUMN = "missing_id_column"
    MISSING_COLUMNS = "missing_columns"
    UNKNOWN_COLUMNS = "unknown_columns"
    MISSING_ID = "missing_id"
    INVALID_ID = "invalid_id"
    DUPLICATE_ID = "duplicate_id"
    BAD_TYPE = "bad_type"
    NULL_NOT_ALLOWED = "null_not_allowed"
    OUT_OF_RANGE = "out_of_range"
    NOT_ALLOWED = "value_not_allowed"


@dataclass(frozen=True)
class Problem:
    """One broken rule: its kind, the column, the first offending 1-based data rows and how many rows in total.

    `detail` and `examples` (one per shown row, or none) are already safe to show: they never carry a value of
    a protected column, only PUBLIC values and ids.
    """

    kind: ProblemKind
    detail: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    count: int = 0
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f"column {self.column!r}: " if self.column is not None else ""
        rows = ""
        if self.rows:
            if len(self.examples) == len(self.rows):
                shown = ", ".join(f"{r} ({e})" for r, e in zip(self.rows, self.examples, strict=True))
            else:
                shown = ", ".join(str(r) for r in self.rows)
            more = self.count - len(self.rows)
            rows = f" at row{'s' if self.count > 1 else ''} {shown}{f' and {more} more' if more > 0 else ''}"
        return f"{self.kind.value}: {where}{self.detail}{rows}"


class IntakeError(InvalidInput):
    """Base class of every intake failure."""


class SchemaError(IntakeError):
    """The TOML schema declaration itself is invalid (unknown key, bad type name, min > max, ...)."""

    def __init__(self, schema_source: str, reason: str) -> None:
        super().__init__(f"{schema_source}: invalid schema: {reason}")
        self.schema_source = schema_source
        self.reason = reason


class DataValidationError(IntakeError):
    """A table file does not match its schema or cannot be read; nothing of it was loaded.

    The message names the file, each kind of problem, and the first offending rows with their columns.
    """

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("DataValidationError needs at least one problem")
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = [f"{source}: {len(self.problems)} problem{'s' if len(self.problems) > 1 else ''} found"]
        lines += [f"  - {p.describe()}" for p in self.problems]
        super().__init__("\n".join(lines))

    @property
    def kinds(self) -> frozenset[ProblemKind]:
        return frozenset(p.kind for p in self.problems)
