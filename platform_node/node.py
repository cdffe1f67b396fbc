"""The platform's node process: its own table with the labels, the active party of every joint job."""

from __future__ import annotations

import logging
import threading

from federation.config import ConfigError, NodeConfig
from federation.node_process import run_node
from federation.proto import control_pb2
from federation.schema_message import table_schema_message
from platform_node.psi_task import make_psi_handler
from platform_node.secureboost_task import make_publish_handler, make_train_handler
from tables import LoadedTable, load_table

log = logging.getLogger("xyd.platform")


def load_configured_table(config: NodeConfig) -> LoadedTable:
    """The platform's own table (features and the default label), validated before serving."""
    data = config.section("data")
    if "schema" not in data or "table" not in data:
        raise ConfigError(f"{config.source}: [data] needs `schema` and `table`")
    return load_table(config.path(data["schema"]), config.path(data["table"]))


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    table = load_configured_table(config)
    ids = [str(i) for i in table.ids]
    log.info("table loaded", extra={"table": table.schema.name, "rows": len(ids)})

    def describe() -> control_pb2.NodeDescription:
        return control_pb2.NodeDescription(tables=[table_schema_message(table.published_schema(), rows=len(table),
                                                                 snapshot_sha256=table.snapshot_sha256)])

    label = str(config.section("data").get("label", "default"))
    if label not in table.frame.columns:
        raise ConfigError(f"{config.source}: [data] label {label!r} is not a column of {table.schema.name}")
    handlers = {"psi": make_psi_handler(ids), "train": make_train_handler(table, label),
                "publish": make_publish_handler()}
    return run_node(config, describe=describe, handlers=handlers, stop=stop)
