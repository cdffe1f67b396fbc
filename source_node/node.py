"""A data-source unit's node process: load and validate its table, publish the schema, serve tasks."""

from __future__ import annotations

import logging
import threading

from federation.config import ConfigError, NodeConfig
from federation.node_process import load_tls, run_node
from federation.proto import control_pb2, scoring_pb2_grpc
from federation.schema_message import table_schema_message
from federation.tasks import Handler
from source_node import verification
from source_node.governance import SourceGovernance, governed, open_governance
from source_node.governance.admin_http import start_admin_endpoint
from source_node.governance.coordinator_link import catalogue_message
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


def stage_handlers(table: LoadedTable, policy: TrainingPolicy) -> dict[str, Handler]:
    """Every stage handler of a source node over `table` (under governance: the columns a task may load)."""
    def psi(ctx):  # the id column as strings, made only when a PSI stage runs
        return make_psi_handler([str(i) for i in table.ids])(ctx)

    handlers = {"psi": psi, "train": make_train_handler(table, policy),
                "evaluate": make_evaluate_handler(table, policy), "publish": make_publish_handler()}
    return with_vertical_lr(handlers, table, policy)  # hetero_lr and scorecard jobs, by [train] algorithm


def governed_handlers(governance: SourceGovernance, policy: TrainingPolicy) -> dict[str, Handler]:
    """The stage handlers admitted by the node's approvals, each built per task over its approved columns."""
    return {stage: governed(governance, stage, lambda view, s=stage: stage_handlers(view, policy)[s])
            for stage in stage_handlers(governance.table, policy)}


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    table = load_configured_table(config)
    log.info("table loaded", extra={"table": table.schema.name, "rows": len(table)})
    quality = {f"missing_rate.{c.name}": f"{c.missing_rate:.4f}" for c in table.quality().columns}

    tls = load_tls(config)
    # Every task, online score and verification answer runs under an approval the unit's administrator signed:
    # a source node without its governance settings does not start.
    governance = open_governance(config, table, tls.identity.party)

    def describe() -> control_pb2.NodeDescription:
        description = control_pb2.NodeDescription(
            tables=[table_schema_message(table.published_schema(), rows=len(table),
                                         snapshot_sha256=table.snapshot_sha256)], quality=quality)
        # The catalogue (names and conditions, never values) and the key that signs the unit's approvals.
        description.catalogue.extend(catalogue_message(governance.catalogue().items))
        description.approval_key = governance.approval_key_bytes
        return description

    policy_raw = config.section("policy")
    policy = TrainingPolicy(allow_plaintext=bool(policy_raw.get("allow_plaintext_training", False)),
                            allow_insecure_keys_for_tests=bool(policy_raw.get("allow_insecure_keys_for_tests", False)))
    handlers = governed_handlers(governance, policy)
    scoring = PartyScoringServicer(table, config.state_dir / "models", governance)
    attached = [start_admin_endpoint(governance, tls=tls, coordinator=config.coordinator,
                                     state_dir=config.state_dir, describe=describe)]

    def attach(server) -> None:
        server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, scoring)
        attached.append(verification.attach(server, config=config, table=table, tls=tls, governance=governance))

    try:
        return run_node(config, describe=describe, handlers=handlers, stop=stop, attach=attach)
    finally:
        for handle in attached:
            handle.close()
        governance.close()
