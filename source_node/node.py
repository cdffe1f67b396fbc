"""A data-source unit's node process: load and validate its table, publish the schema, serve tasks."""

from __future__ import annotations

import logging
import threading

from federation.config import NodeConfig, NodePolicy
from federation.metrics import Readiness
from federation.node_process import load_tls, run_node
from federation.proto import control_pb2, scoring_pb2_grpc
from federation.tasks import Handler, TaskContext
from jobspec import Algorithm, Stage
from jobspec.dispatch import per_algorithm
from source_node import verification
from source_node.compute import ComputeSettings
from source_node.governance import SourceGovernance, governed, open_governance
from source_node.governance.admin_http import start_admin_endpoint
from source_node.governance.coordinator_link import catalogue_message
from source_node.scoring import PartyScoringServicer
from source_node.scoring_settings import ScoringSettings
from source_node.stages import secureboost, vertical_lr
from source_node.stages.psi import make_psi_handler
from tables import LoadedTable
from tables.configured import describe_table, load_configured_table, table_files

log = logging.getLogger("xyd.source")


def stage_handlers(table: LoadedTable, policy: NodePolicy,
                   compute: ComputeSettings | None = None) -> dict[Stage, Handler]:
    """The source node's handler of each stage; training stages run the handler of the job's algorithm."""
    compute = compute or ComputeSettings()
    lr = {Algorithm.HETERO_LR, Algorithm.SCORECARD}

    def by_algorithm(sb: Handler | None, vlr: Handler) -> Handler:
        return per_algorithm({**({Algorithm.SECUREBOOST: sb} if sb else {}), **dict.fromkeys(lr, vlr)})

    def psi(ctx: TaskContext) -> dict:  # the id column as strings, made only when a PSI stage runs
        return make_psi_handler([str(i) for i in table.ids], compute)(ctx)

    return {
        Stage.PSI: psi,
        Stage.BINNING: by_algorithm(None, vertical_lr.make_binning_handler(table, policy)),
        Stage.TRAIN: by_algorithm(secureboost.make_train_handler(table, policy, compute),
                                  vertical_lr.make_train_handler(table, policy)),
        Stage.EVALUATE: by_algorithm(secureboost.make_evaluate_handler(table, policy),
                                     vertical_lr.make_evaluate_handler()),
        Stage.PUBLISH: by_algorithm(secureboost.make_publish_handler(), vertical_lr.make_publish_handler()),
    }


def governed_handlers(governance: SourceGovernance, policy: NodePolicy,
                      compute: ComputeSettings | None = None) -> dict[Stage, Handler]:
    """The stage handlers admitted by the node's approvals, each built per task over its approved columns."""
    return {stage: governed(governance, stage, lambda view, s=stage: stage_handlers(view, policy, compute)[s])
            for stage in stage_handlers(governance.table, policy, compute)}


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    table = load_configured_table(config)
    log.info("table loaded", extra={"table": table.schema.name, "rows": len(table)})
    tls = load_tls(config)
    # Every task, online score and verification answer runs under an approval the unit's administrator signed:
    # a source node without its governance settings does not start.
    governance = open_governance(config, table, tls.identity.party)

    described = describe_table(table)

    def describe() -> control_pb2.NodeDescription:
        description = control_pb2.NodeDescription()
        description.CopyFrom(described)
        # The catalogue (names and conditions, never values) and the key that signs the unit's approvals.
        description.catalogue.extend(catalogue_message(governance.catalogue().items))
        description.approval_key = governance.approval_key_bytes
        return description

    handlers = governed_handlers(governance, config.policy, ComputeSettings.from_section(config.section("compute")))
    settings = ScoringSettings.from_section(config.section("scoring"))
    scoring = PartyScoringServicer(table, config.state_dir / "models", governance, settings)
    reloader = threading.Event()
    if settings.reload_s:
        threading.Thread(target=_reload_scoring_data, args=(config, scoring, settings.reload_s, reloader),
                         name="xyd-scoring-reload", daemon=True).start()
    attached = [start_admin_endpoint(governance, tls=tls, coordinator=config.coordinator,
                                     state_dir=config.state_dir, describe=describe)]

    def attach(server) -> None:
        server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, scoring, roles={"platform"})
        attached.append(verification.attach(server, config=config, table=table, tls=tls, governance=governance))

    readiness = Readiness()
    readiness.add("table", lambda: len(table) > 0)
    try:
        return run_node(config, describe=describe, handlers=handlers, stop=stop, attach=attach,
                        limited_roles={"admin": verification.OFFICER_METHODS}, readiness=readiness)
    finally:
        reloader.set()
        for handle in attached:
            handle.close()
        governance.close()


def _reload_scoring_data(config: NodeConfig, scoring: PartyScoringServicer, every_s: float,
                         stop: threading.Event) -> None:
    """Re-read the `[data]` table when its files change and serve it to scoring (a new snapshot); a table that
    no longer loads is logged and the current one kept."""
    def stamp() -> tuple[int, ...]:
        return tuple(path.stat().st_mtime_ns for path in table_files(config))

    # Nothing seen yet: the first tick loads the files once more, so a change landing between the served
    # table's load and this thread's start is not missed (an unchanged snapshot is not swapped).
    seen: tuple[int, ...] | None = None
    while not stop.wait(every_s):
        try:
            now = stamp()
            if now != seen:
                scoring.replace_table(load_configured_table(config))
                seen = now
        except Exception as exc:  # a half-written file: try again at the next tick
            log.warning("scoring data not reloaded", extra={"error": f"{type(exc).__name__}: {exc}"})
