"""The platform's node process: its own table with the labels, the active party of every joint job."""

from __future__ import annotations

import logging
import threading

from prometheus_client import REGISTRY

from federation.compute import ComputeSettings
from federation.config import ConfigError, NodeConfig, NodePolicy
from federation.metrics import Readiness
from federation.node_process import load_tls, run_node
from federation.pki import NodeTls
from federation.tasks import Handler
from jobspec import Algorithm, Stage
from jobspec.dispatch import per_algorithm
from platform_node import consent_registry
from platform_node.consent_registry import ConsentRegistry, ConsentRegistryNode
from platform_node.metrics import AuditLogCollector
from platform_node.stages import secureboost, vertical_lr
from platform_node.stages.psi import make_psi_handler
from platform_node.statistics.directory import TableDirectory
from platform_node.task_activity import TaskActivity, observed
from platform_node.usage_reporting import AnswerCounter, UsageReporter
from tables import LoadedTable
from tables.configured import describe_table, load_configured_table

log = logging.getLogger("xyd.platform")


def serve(config: NodeConfig, stop: threading.Event | None = None) -> int:
    table = load_configured_table(config)
    log.info("table loaded", extra={"table": table.schema.name, "rows": len(table)})
    description = describe_table(table, with_quality=False)
    label = str(config.section("data").get("label", "default"))
    if label not in table.frame.columns:
        raise ConfigError(f"{config.source}: [data] label {label!r} is not a column of {table.schema.name}")
    # What the platform's stages report is also kept for the operator's console (it is every job's active party).
    activity = TaskActivity()
    handlers = observed(stage_handlers(table, label, config.policy,
                                       ComputeSettings.from_section(config.section("compute"))), activity)
    tls = load_tls(config)
    # One registry over the platform's one database, shared by the gRPC service and the HTTP API: one engine,
    # one audit log, one series of witnessed checkpoints (platform_node/api/embedded.py).
    # What the platform uses of each source unit (scores, verifications) goes to the coordinator's governance log.
    usage = AnswerCounter()
    consent = consent_registry.prepare(config=config, tls=tls, registry=open_consent_registry(config, tls),
                                       usage=usage)
    readiness = Readiness()
    readiness.add("table", lambda: len(table) > 0)
    readiness.add("consent_registry", lambda: consent.registry.log.tree_size() >= 0)
    audit_logs = AuditLogCollector()
    audit_logs.add("platform", consent.registry.log)
    REGISTRY.register(audit_logs)
    reporter = UsageReporter(usage, config.coordinator, tls, interval_s=float(
        config.section("governance").get("usage_report_interval_s", 10))).start() if config.coordinator else None
    api = None
    try:
        if "api" in config.raw:
            api_up = readiness.flag("api")
            api = start_api(config, table, label, consent=consent, activity=activity, usage=usage)
            api_up.set()

        def attach(server) -> None:
            consent_registry.attach(server, config=config, tls=tls, prepared=consent)

        return run_node(config, describe=lambda: description, handlers=handlers, stop=stop, attach=attach,
                        allowed_roles={"coordinator", "platform", "source", "admin"}, readiness=readiness)
    finally:
        if api is not None:
            api()
        REGISTRY.unregister(audit_logs)
        if reporter is not None:
            reporter.close()
        consent.close()


def stage_handlers(table: LoadedTable, label: str, policy: NodePolicy,
                   compute: ComputeSettings | None = None) -> dict[Stage, Handler]:
    """The platform's handler of each stage; training stages run the handler of the job's algorithm. `[compute]`
    places PSI hashing and blinding, and SecureBoost's encryption and decryption (federation/compute.py)."""
    compute = compute or ComputeSettings()
    lr = {Algorithm.HETERO_LR, Algorithm.SCORECARD}

    def by_algorithm(sb: Handler | None, vlr: Handler) -> Handler:
        return per_algorithm({**({Algorithm.SECUREBOOST: sb} if sb else {}), **dict.fromkeys(lr, vlr)})

    return {
        Stage.PSI: make_psi_handler([str(i) for i in table.ids], compute),
        Stage.BINNING: by_algorithm(None, vertical_lr.make_binning_handler(table, label, policy)),
        Stage.TRAIN: by_algorithm(secureboost.make_train_handler(table, label, policy, compute),
                                  vertical_lr.make_train_handler(table, label)),
        Stage.EVALUATE: by_algorithm(secureboost.make_evaluate_handler(table, label, policy),
                                     vertical_lr.make_evaluate_handler(table, label)),
        Stage.PUBLISH: by_algorithm(secureboost.make_publish_handler(), vertical_lr.make_publish_handler()),
    }


def open_consent_registry(config: NodeConfig, tls: NodeTls) -> ConsentRegistry:
    """The platform's consent registry on the platform's one database (`platform_database_url`)."""
    from platform_node.api.embedded import platform_database_url

    folder = config.state_dir / "consent"
    folder.mkdir(parents=True, exist_ok=True)
    return ConsentRegistry.open(platform_database_url(config), folder / "keys", identity=tls.identity)


def start_api(config: NodeConfig, table: LoadedTable, label: str, *, consent: ConsentRegistryNode,
              activity: TaskActivity | None = None, usage: AnswerCounter | None = None):
    """Serve the bank/compliance HTTP API and the web console in this process with the federated scorer, over
    the consent registry's engine and log; returns a stopper.

    The console's operator pages see the federation through the coordinator (`CoordinatorView`) and this
    node's stages through `activity`; the financing statistics place enterprises by the district and industry
    columns of this node's table; `GET /v1/catalogue` reads the city-wide list at the coordinator."""
    from platform_node.api.embedded import api_settings, start_embedded_api
    from platform_node.federation_view import CoordinatorView
    from platform_node.governance_link import CoordinatorCatalogue
    from platform_node.scoring.published import PublishedModelScorer

    if not config.coordinator:
        raise ConfigError(f"{config.source}: the API needs [coordinator] address to locate the source nodes")
    scorer = PublishedModelScorer(models_dir=config.state_dir / "models", own_table=table, label_column=label,
                                  tls=load_tls(config), coordinator=config.coordinator, usage=usage,
                                  availability=api_settings(config).availability_policy(),
                                  choice=api_settings(config).models, privacy=api_settings(config).privacy)
    federation = CoordinatorView(config.coordinator, load_tls(config), config.state_dir / "models",
                                 activity or TaskActivity())
    catalogue = CoordinatorCatalogue(config.coordinator, load_tls(config))
    stop_api = start_embedded_api(config, scorer=scorer, consent=consent,
                                  directory=TableDirectory.from_frame(table.frame), federation=federation,
                                  catalogue=catalogue)
    log.info("API serving", extra={"url": (config.state_dir / "api_url").read_text()})

    def stop() -> None:
        stop_api()
        catalogue.close()

    return stop
