"""`xyd source validate`: check a table file against its schema and print a summary or the problems found."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tables.errors import IntakeError

if TYPE_CHECKING:
    from tables.table import LoadedTable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `validate` to the given subparsers (those of the `xyd source` command group)."""
    parser = subparsers.add_parser(
        "validate",
        help="validate a table against its declared schema",
        description="Load a CSV, Parquet or SQLite table, check it against a TOML schema, print a summary.",
    )
    parser.add_argument("--schema", required=True, type=Path, help="schema TOML file")
    parser.add_argument("--table", required=True, help="table: file.csv, file.parquet, file.db or sqlite:///f.db?table=T")
    parser.add_argument("--sqlite-table", default=None, help="table name inside a SQLite file given as a plain path")
    parser.add_argument("--delimiter", default=",", help="CSV delimiter (default ',')")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(func=run_validate)


def summary(table: LoadedTable) -> dict[str, object]:
    """What `validate` reports: aggregates and the published schema, never a protected value."""
    return {
        "source": table.source,
        "snapshot_sha256": table.snapshot_sha256,
        "quality": table.quality().to_dict(),
        "published_schema": table.published_schema(),
    }


def run_validate(args: argparse.Namespace) -> int:
    from tables.table import load_table  # pandas: only when a table is validated

    """Print the summary and return 0, or print the error to stderr and return 1."""

    try:
        table = load_table(args.schema, args.table, table=args.sqlite_table, delimiter=args.delimiter)
    except IntakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary(table), ensure_ascii=False, sort_keys=True))
        return 0
    quality = table.quality()
    print(f"{table.source}: OK, table {table.schema.name!r}, {quality.rows} rows, {len(quality.columns)} columns")
    print(f"snapshot sha256 {table.snapshot_sha256}")
    width = max(len(c.name) for c in quality.columns)
    for c in quality.columns:
        stats = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in c.stats.items())
        print(f"  {c.name:<{width}}  {c.type:<6} {c.sensitivity:<12} missing {c.missing_rate:6.1%}  {stats}".rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (`python -m tables.cli validate ...`) until the lead wires `xyd source`."""
    parser = argparse.ArgumentParser(prog="xyd source")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
