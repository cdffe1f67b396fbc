"""Load a source unit's table: read, validate completely, then hand back the typed frame with its fingerprint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from tables.quality import TableQuality, measure_quality
from tables.schema import TableSchema, load_schema
from tables.snapshot import snapshot_sha256
from tables.sources import parse_source, read_source
from tables.validation import validate_frame


@dataclass(frozen=True, eq=False)
class LoadedTable:
    """A table that passed every check: `frame` is indexed by the id column (credit codes), one column per
    declared column in schema order, with nullable pandas dtypes (Int64, float64, string, boolean, datetime64[s]).
    """

    frame: pd.DataFrame
    schema: TableSchema
    source: str
    snapshot_sha256: str

    @property
    def ids(self) -> pd.Index:
        return self.frame.index

    def __len__(self) -> int:
        return len(self.frame)

    def restricted(self, columns: Iterable[str]) -> LoadedTable:
        """The same rows with only `columns` (kept in schema order; unknown names are ignored): what one task
        may load, so that no other column can reach anything the task computes."""
        wanted = set(columns)
        kept = tuple(c for c in self.schema.columns if c.name in wanted)
        return LoadedTable(frame=self.frame[[c.name for c in kept]], schema=replace(self.schema, columns=kept),
                           source=self.source, snapshot_sha256=self.snapshot_sha256)

    def quality(self) -> TableQuality:
        """Aggregate figures only (row count, missing rates, distributions of PUBLIC columns)."""
        return measure_quality(self.schema, self.frame)

    def published_schema(self) -> dict[str, Any]:
        """What the node tells the federation about this table: names, types, sensitivity, categories; no values."""
        return {
            "table": self.schema.name,
            "id_column": self.schema.id_column,
            "category": self.schema.category,
            "schema_sha256": self.schema.sha256,
            "columns": [
                {
                    "name": c.name,
                    "type": c.type.value,
                    "nullable": c.nullable,
                    "sensitivity": c.sensitivity.value,
                    "category": c.category,
                    "description": c.description,
                }
                for c in self.schema.columns
            ],
        }


def load_table(
    schema: TableSchema | Path | str,
    source: Path | str,
    *,
    table: str | None = None,
    delimiter: str = ",",
) -> LoadedTable:
    """Read `source` (a .csv/.parquet/.db path or `sqlite:///file.db?table=NAME`) and validate it against `schema`.

    Raises SchemaError for a bad schema and DataValidationError for any problem with the data; in that case
    nothing is returned, so a caller never holds a half-checked table. `table` names the SQLite table when the
    source is a plain path.
    """
    declared = schema if isinstance(schema, TableSchema) else load_schema(Path(schema))
    raw = read_source(parse_source(source, table=table), delimiter=delimiter)
    frame = validate_frame(declared, raw.frame, raw.label)
    return LoadedTable(
        frame=frame, schema=declared, source=raw.label, snapshot_sha256=snapshot_sha256(declared, frame)
    )
