"""The table a data-holding node serves, as its config names it, and what the node tells the coordinator of it.

Shared by the platform and every source node: the `[data]` table is validated completely before the node
serves anything, and the description carries the published schema, the row count, the snapshot hash and the
missing rate of each column, never a value.
"""

from __future__ import annotations

from pathlib import Path

from federation.config import ConfigError, NodeConfig
from federation.proto import control_pb2
from federation.schema_message import table_schema_message
from tables.table import LoadedTable, load_table


def load_configured_table(config: NodeConfig) -> LoadedTable:
    """The table named in `[data]` (`schema` and `table`, paths relative to the config file)."""
    data = config.section("data")
    if "schema" not in data or "table" not in data:
        raise ConfigError(f"{config.source}: [data] needs `schema` and `table`")
    return load_table(config.path(data["schema"]), config.path(data["table"]))


def table_files(config: NodeConfig) -> tuple[Path, Path]:
    """The schema and table files `[data]` names (their change is a new snapshot to load)."""
    data = config.section("data")
    return config.path(data["schema"]), config.path(data["table"])


def describe_table(table: LoadedTable, *, with_quality: bool = True) -> control_pb2.NodeDescription:
    """The node's description for the coordinator's registry: schema, size, snapshot and (for a source node)
    the missing rate of each column; the platform leaves quality out, as its table holds the labels."""
    quality = {f"missing_rate.{c.name}": f"{c.missing_rate:.4f}" for c in table.quality().columns} \
        if with_quality else {}
    return control_pb2.NodeDescription(
        tables=[table_schema_message(table.published_schema(), rows=len(table), snapshot_sha256=table.snapshot_sha256)],
        quality=quality)
