"""The platform's node process: its own table with the labels, the active party of every joint job."""

from __future__ import annotations

import logging
import threading

from federation.config import ConfigError, NodeConfig
from federation.node_process import load_tls, run_node, write_atomically
from federation.pki import NodeTls
from federation.proto import control_pb2
from federation.schema_message import table_schema_message
from platform_node import consent_registry
from platform_node.consent_registry import ConsentRegistry
from platform_node.stages.psi import make_psi_handler
from platform_node.stages.secureboost import make_evaluate_handler, make_publish_handler, make_train_handler
from platform_node.stages.vertical_lr import with_vertical_lr
from platform_node.usage_reporting import AnswerCounter, UsageReporter
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
                "evaluate": make_evaluate_handler(table, label), "publish": make_publish_handler()}
    handlers = with_vertical_lr(handlers, table, label)  # hetero_lr and scorecard jobs, by [train] algorithm
    tls = load_tls(config)
    # One registry object for the gRPC service and the HTTP API: monitoring sees the MONITOR authorisations
    # that enterprises signed through the registry.
    registry = open_consent_registry(config, tls)
    # What the platform uses of each source unit goes to the coordinator's governance log.
    usage = AnswerCounter()
    reporter = UsageReporter(usage, config.coordinator, tls, interval_s=float(
        config.section("governance").get("usage_report_interval_s", 10))).start() if config.coordinator else None
    attached = []
    api = None
    try:
        api = start_api(config, table, label, registry=registry, usage=usage) if "api" in config.raw else None

        def attach(server) -> None:
            attached.append(consent_registry.attach(server, config=config, tls=tls, registry=registry, usage=usage))

        return run_node(config, describe=describe, handlers=handlers, stop=stop, attach=attach,
                        allowed_roles={"coordinator", "platform", "source", "bank", "admin"})
    finally:
        for handle in attached:
            handle.close()
        if api is not None:
            api()
        if reporter is not None:
            reporter.close()
        registry.engine.dispose()


def open_consent_registry(config: NodeConfig, tls: NodeTls) -> ConsentRegistry:
    """The platform's consent registry from `[consent] db` (default `<state_dir>/consent/registry.db`)."""
    folder = config.state_dir / "consent"
    folder.mkdir(parents=True, exist_ok=True)
    url = str(config.section("consent").get("db") or f"sqlite:///{folder / 'registry.db'}")
    return ConsentRegistry.open(url, folder / "keys", identity=tls.identity)


def start_api(config: NodeConfig, table: LoadedTable, label: str, *, registry: ConsentRegistry | None = None,
              usage: AnswerCounter | None = None):
    """Serve the bank/compliance HTTP API in this process with the federated scorer; returns a stopper.

    With `registry`, the API reads authorisations (compliance listing, monitoring eligibility) from the
    consent registry's store instead of a store of its own."""
    from dataclasses import replace

    from models.horizontal.published import PUBLISHED_MODELS_SUBDIR
    from platform_node.api.app import create_app
    from platform_node.api.cli import platform_secrets
    from platform_node.api.server import ApiServer
    from platform_node.api.services import build_services
    from platform_node.api.settings import settings_from_mapping
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
                                  tls=load_tls(config), coordinator=config.coordinator, usage=usage)
    records = load_public_records(settings.public_records_file) if settings.public_records_file \
        else InMemoryPublicRecords()
    store = None if registry is None else registry.store
    catalogue = CoordinatorCatalogue(config.coordinator, load_tls(config))
    services = build_services(settings, scorer=scorer, public_records=records, secrets=platform_secrets(settings),
                              authorisations=store,
                              monitor_authorisations=None if store is None else StoreMonitorAuthorisations(store),
                              catalogue=catalogue)
    server = ApiServer(create_app(services), host=settings.host, port=settings.port)
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
