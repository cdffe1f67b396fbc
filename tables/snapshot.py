"""A stable SHA-256 of a validated table's content, independent of row order and of the file format it came from.

Encoding (version 1), fed to one SHA-256 in this order:
  the tag b"xyd-table-snapshot-v1", then the id column name, the row count (8 bytes little-endian), then the ids
  sorted ascending as a string block; a string block is the 4-byte little-endian UTF-8 lengths of all its
  strings followed by their concatenated UTF-8 bytes; then for each declared column in schema order: its name and type, a
  bit-packed null mask, and the values in id order as fixed-width little-endian numbers (int64; float64 with
  -0.0 folded to 0.0; bool as one byte; date as int64 days since 1970-01-01; nulls as zero) or, for strings,
  a string block (nulls as empty strings; the mask tells them apart). Descriptions, sensitivities and categories are not content and are not hashed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from tables.schema import ColumnType, TableSchema

SNAPSHOT_TAG = b"xyd-table-snapshot-v1"


def _strings(h: hashlib._Hash, values: list[str | None]) -> None:
    blobs = [b"" if v is None else v.encode() for v in values]
    h.update(np.array([len(b) for b in blobs], dtype="<u4").tobytes())
    h.update(b"".join(blobs))


def _label(h: hashlib._Hash, text: str) -> None:
    _strings(h, [text])


def snapshot_sha256(schema: TableSchema, frame: pd.DataFrame) -> str:
    """Hash a frame as returned by validation (index = ids, one column per declared column)."""
    h = hashlib.sha256(SNAPSHOT_TAG)
    ids = frame.index.to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    _label(h, schema.id_column)
    h.update(len(ids).to_bytes(8, "little"))
    _strings(h, [str(v) for v in ids[order]])
    for column in schema.columns:
        series = frame[column.name].iloc[order]
        _label(h, column.name)
        _label(h, column.type.value)
        null = series.isna().to_numpy(dtype=bool)
        h.update(np.packbits(null).tobytes())
        if column.type is ColumnType.STRING:
            _strings(h, [None if n else str(v) for v, n in zip(series.tolist(), null, strict=True)])
            continue
        if column.type is ColumnType.INT:
            values = series.to_numpy(dtype="int64", na_value=0).astype("<i8")
        elif column.type is ColumnType.FLOAT:
            values = series.to_numpy(dtype="float64", na_value=0.0)
            values = np.where(values == 0.0, 0.0, values).astype("<f8")
        elif column.type is ColumnType.BOOL:
            values = series.to_numpy(dtype=bool, na_value=False).astype(np.uint8)
        else:
            days = series.to_numpy(dtype="datetime64[D]")
            values = np.where(null, 0, days.astype("int64")).astype("<i8")
        h.update(values.tobytes())
    return h.hexdigest()
