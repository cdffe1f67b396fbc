"""A data-source unit's node process: load and validate its table, publish the schema, serve tasks."""

from __future__ import annotations

import logging
import threading

from federation.config import ConfigError, NodeConfig
from federation.node_process import load_tls, run_node
from federation.proto import control_pb2, scoring_pb2_grpc
from federation.schema_message import table_schema_message
from source_node import verification
from source_node.scoring import PartyScoringServicer
from source_node.stages.psi import make_psi_handler
from source_node.stages.secureboost import (
    TrainingPolicy,
    make_evaluate_handler,
    make_publish_handler,
    make_train_handler,
)
from source_node.stages.vertical_lr import with_vertical_lr
from tables import LoadedTable, load_table

log = logging.getLogger("xyd.source")


def load_configured_table(config: NodeConfig) -> LoadedTable:
    """The table named in `[data]`: validated completely before the node serves anything."""
    data = config.section("data")
    if "schema" not in data or "table" not in data:
        raise ConfigError(f"{config.source}: [data] needs `schema` and `table`")
    return load_table(config.path(data["schema"]), config.path(data["table"]))


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    table = load_configured_table(config)
    ids = [str(i) for i in table.ids]
    log.info("table loaded", extra={"table": table.schema.name, "rows": len(ids)})
    quality = {f"missing_rate.{c.name}": f"{c.missing_rate:.4f}" for c in table.quality().columns}

    def describe() -> control_pb2.NodeDescription:
        return control_pb2.NodeDescription(tables=[table_schema_message(table.published_schema(), rows=len(table),
                                                                 snapshot_sha256=table.snapshot_sha256)], quality=quality)

    policy_raw = config.section("policy")
    policy = TrainingPolicy(allow_plaintext=bool(policy_raw.get("allow_plaintext_training", False)),
                            allow_insecure_keys_for_tests=bool(policy_raw.get("allow_insecure_keys_for_tests", False)))
    handlers = {"psi": make_psi_handler(ids), "train": make_train_handler(table, policy),
                "evaluate": make_evaluate_handler(table, policy), "publish": make_publish_handler()}
    handlers = with_vertical_lr(handlers, table, policy)  # hetero_lr and scorecard jobs, by [train] algorithm
    scoring = PartyScoringServicer(table, config.state_dir / "models")

    tls = load_tls(config)
    attached = []

    def attach(server) -> None:
        server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, scoring, roles={"platform"})
        attached.append(verification.attach(server, config=config, table=table, tls=tls))

    try:
        return run_node(config, describe=describe, handlers=handlers, stop=stop, attach=attach)
    finally:
        for handle in attached:
            handle.close()
