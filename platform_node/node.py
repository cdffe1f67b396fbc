"""The platform's node process: its own table with the labels, the active party of every joint job."""

from __future__ import annotations

import logging
import threading

from prometheus_client import REGISTRY

from federation.config import ConfigError, NodeConfig, NodePolicy
from federation.metrics import Readiness
from federation.node_process import load_tls, run_node, write_atomically
from federation.pki import NodeTls
from federation.tasks import Handler
from jobspec import Algorithm, Stage
from jobspec.dispatch import per_algorithm
from platform_node import consent_registry
from platform_node.consent_registry import ConsentRegistry
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
    handlers = observed(stage_handlers(table, label, config.policy), activity)
    tls = load_tls(config)
    # One registry object for the gRPC service and the HTTP API: monitoring sees the MONITOR authorisations
    # that enterprises signed through the registry.
    registry = open_consent_registry(config, tls)
    readiness = Readiness()
    readiness.add("table", lambda: len(table) > 0)
    readiness.add("consent_registry", lambda: registry.log.tree_size() >= 0)
    audit_logs = AuditLogCollector()
    audit_logs.add("registry", registry.log)
    REGISTRY.register(audit_logs)
    # What the platform uses of each source unit goes to the coordinator's governance log.
    usage = AnswerCounter()
    reporter = UsageReporter(usage, config.coordinator, tls, interval_s=float(
        config.section("governance").get("usage_report_interval_s", 10))).start() if config.coordinator else None
    attached = []
    api = None
    try:
        if "api" in config.raw:
            api_up = readiness.flag("api")
            api = start_api(config, table, label, registry=registry, activity=activity, audit_logs=audit_logs,
                            usage=usage)
            api_up.set()

        def attach(server) -> None:
            attached.append(consent_registry.attach(server, config=config, tls=tls, registry=registry, usage=usage))

        return run_node(config, describe=lambda: description, handlers=handlers, stop=stop, attach=attach,
                        allowed_roles={"coordinator", "platform", "source", "bank", "admin"}, readiness=readiness)
    finally:
        for handle in attached:
            handle.close()
        if api is not None:
            api()
        REGISTRY.unregister(audit_logs)
        if reporter is not None:
            reporter.close()
        registry.engine.dispose()


def stage_handlers(table: LoadedTable, label: str, policy: NodePolicy) -> dict[Stage, Handler]:
    """The platform's handler of each stage; training stages run the handler of the job's algorithm."""
    lr = {Algorithm.HETERO_LR, Algorithm.SCORECARD}

    def by_algorithm(sb: Handler | None, vlr: Handler) -> Handler:
        return per_algorithm({**({Algorithm.SECUREBOOST: sb} if sb else {}), **dict.fromkeys(lr, vlr)})

    return {
        Stage.PSI: make_psi_handler([str(i) for i in table.ids]),
        Stage.BINNING: by_algorithm(None, vertical_lr.make_binning_handler(table, label, policy)),
        Stage.TRAIN: by_algorithm(secureboost.make_train_handler(table, label, policy),
                                  vertical_lr.make_train_handler(table, label)),
        Stage.EVALUATE: by_algorithm(secureboost.make_evaluate_handler(table, label, policy),
                                     vertical_lr.make_evaluate_handler(table, label)),
        Stage.PUBLISH: by_algorithm(secureboost.make_publish_handler(), vertical_lr.make_publish_handler()),
    }


def open_consent_registry(config: NodeConfig, tls: NodeTls) -> ConsentRegistry:
    """The platform's consent registry from `[consent] db` (default `<state_dir>/consent/registry.db`)."""
    folder = config.state_dir / "consent"
    folder.mkdir(parents=True, exist_ok=True)
    url = str(config.section("consent").get("db") or f"sqlite:///{folder / 'registry.db'}")
    return ConsentRegistry.open(url, folder / "keys", identity=tls.identity)


def start_api(config: NodeConfig, table: LoadedTable, label: str, *, registry: ConsentRegistry | None = None,
              activity: TaskActivity | None = None, audit_logs: AuditLogCollector | None = None,
              usage: AnswerCounter | None = None):
    """Serve the bank/compliance HTTP API and the web console in this process with the federated scorer;
    returns a stopper.

    With `registry`, the API reads authorisations (compliance listing, monitoring eligibility) from the
    consent registry's store instead of a store of its own; `audit_logs` then reports the API's log size. The
    console's operator pages see the federation through the coordinator (`CoordinatorView`) and this node's
    stages through `activity`; the financing statistics place enterprises by the district and industry columns
    of this node's table."""
    from dataclasses import replace

    from models.horizontal.published import PUBLISHED_MODELS_SUBDIR
    from platform_node.api.app import create_app
    from platform_node.api.cli import platform_secrets
    from platform_node.api.server import ApiServer
    from platform_node.api.services import build_services
    from platform_node.api.settings import settings_from_mapping
    from platform_node.federation_view import CoordinatorView
    from platform_node.governance_link import CoordinatorCatalogue
    from platform_node.monitoring import StoreMonitorAuthorisations
    from platform_node.reports.public_records import InMemoryPublicRecords, load_public_records
    from platform_node.scoring.published import PublishedModelScorer

    if not config.coordinator:
        raise ConfigError(f"{config.source}: the API needs [coordinator] address to locate the source nodes")
    settings = settings_from_mapping(config.section("api"), base=config.source.parent if config.source else None)
    if settings.horizontal_models_dir is None:  # the banks' published models, beside the joint ones
        settings = replace(settings, horizontal_models_dir=config.state_dir / PUBLISHED_MODELS_SUBDIR)
    scorer = PublishedModelScorer(models_dir=config.state_dir / "models", own_table=table, label_column=label,
                                  tls=load_tls(config), coordinator=config.coordinator, usage=usage,
                                  availability=settings.availability_policy())
    records = load_public_records(settings.public_records_file) if settings.public_records_file \
        else InMemoryPublicRecords()
    store = None if registry is None else registry.store
    federation = CoordinatorView(config.coordinator, load_tls(config), config.state_dir / "models",
                                 activity or TaskActivity())
    catalogue = CoordinatorCatalogue(config.coordinator, load_tls(config))
    services = build_services(settings, scorer=scorer, public_records=records, secrets=platform_secrets(settings),
                              authorisations=store,
                              monitor_authorisations=None if store is None else StoreMonitorAuthorisations(store),
                              directory=TableDirectory.from_frame(table.frame), federation=federation,
                              catalogue=catalogue)
    if audit_logs is not None:
        audit_logs.add("api", services.audit)
    server = ApiServer(create_app(services), host=settings.host, port=settings.port,
                       max_head_bytes=settings.max_request_head_bytes, head_timeout_s=settings.request_head_timeout_s)
    url = server.start()
    if settings.run_ticker:
        services.start_ticker()
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(config.state_dir / "api_url", url)
    log.info("API serving", extra={"url": url})

    def stop() -> None:
        server.stop()
        services.close()
        scorer.close()
        catalogue.close()

    return stop
