"""The wire form of a node's published table schema: names, types, sensitivity, categories, never values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.proto import control_pb2


def table_schema_message(published: Mapping[str, Any], *, rows: int, snapshot_sha256: str) -> control_pb2.TableSchema:
    """Build the `TableSchema` a node registers from its intake's published schema (a plain mapping)."""
    return control_pb2.TableSchema(
        name=str(published["table"]),
        id_column=str(published["id_column"]),
        rows=rows,
        snapshot_sha256=bytes.fromhex(snapshot_sha256),
        columns=[
            control_pb2.ColumnSchema(name=c["name"], type=c["type"], sensitivity=c["sensitivity"],
                                     category=c.get("category") or "")
            for c in published["columns"]
        ],
    )
