"""The bank API inside the platform node: one database, one engine, one audit log, one checkpoint series.

The platform's database is the `[api] database_url` when the node serves the API (else the consent
registry's `[consent] db`). The consent registry (artefacts, enterprise keys, the relay's directory) opens on
it, and the API's stores (institutions, uses, feedback, alerts, webhooks, enterprise accounts, consent
requests) are built over the registry's engine and log. Checkpoints of that one log are signed with the
registry's key (origin `xyd/platform/main/audit-log`) and cosigned by the source nodes as witnesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from consent.audit import open_engine
from consent.audit.schema import log_tables
from federation.config import ConfigError, NodeConfig
from federation.node_process import write_atomically
from platform_node.api.settings import ApiSettings, settings_from_mapping
from platform_node.consent_registry import ConsentRegistryNode
from platform_node.scoring.scorer import Scorer

MIGRATION_HINT = ("the platform keeps one database and one audit log now; merge the two first: "
                  "`xyd platform merge-logs --config <this file>` (OPERATIONS.md, 'One audit log')")


def api_settings(config: NodeConfig) -> ApiSettings:
    """The `[api]` settings of a node config, relative paths resolved against the config file's folder."""
    from models.horizontal.published import PUBLISHED_MODELS_SUBDIR

    settings = settings_from_mapping(config.section("api"), base=config.source.parent if config.source else None)
    if settings.horizontal_models_dir is None:  # the banks' published models, beside the joint ones
        settings = replace(settings, horizontal_models_dir=config.state_dir / PUBLISHED_MODELS_SUBDIR)
    return settings


def legacy_registry_db(config: NodeConfig) -> Path:
    """Where a platform of an earlier version kept its consent registry's own database."""
    return config.state_dir / "consent" / "registry.db"


def platform_database_url(config: NodeConfig) -> str:
    """The one database of the platform node (see the module docstring); refuses a config naming two, and a
    state folder holding a registry log of its own beside the API's (it must be merged first)."""
    consent_db = config.section("consent").get("db")
    if "api" not in config.raw:
        return str(consent_db or f"sqlite:///{legacy_registry_db(config)}")
    url = api_settings(config).database_url
    if consent_db and str(consent_db) != url:
        raise ConfigError(f"{config.source}: [consent] db and [api] database_url name two databases; the "
                          f"platform keeps one: drop [consent] db")
    legacy = legacy_registry_db(config)
    if legacy.exists() and url != f"sqlite:///{legacy}" and _has_leaves(legacy):
        raise ConfigError(f"{config.source}: {legacy} holds a consent registry log of its own; {MIGRATION_HINT}")
    return url


def _has_leaves(path: Path) -> bool:
    engine = open_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            size = conn.execute(select(log_tables().head.c.tree_size)).scalar()
        return bool(size)
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def start_embedded_api(config: NodeConfig, *, scorer: Scorer, consent: ConsentRegistryNode,
                       **views: Any) -> Callable[[], None]:
    """Serve the bank/compliance HTTP API in this process over the consent registry's engine and log;
    returns a stopper (which also closes `scorer` if it can be closed). `views` go to `build_services` as they
    are (the console's `directory` and `federation`, the governance `catalogue`)."""
    from platform_node.api.app import create_app
    from platform_node.api.cli import platform_secrets
    from platform_node.api.server import ApiServer
    from platform_node.api.services import build_services
    from platform_node.monitoring import StoreMonitorAuthorisations
    from platform_node.reports.public_records import InMemoryPublicRecords, load_public_records

    settings = api_settings(config)
    records = load_public_records(settings.public_records_file) if settings.public_records_file \
        else InMemoryPublicRecords()
    services = build_services(settings, scorer=scorer, public_records=records, secrets=platform_secrets(settings),
                              monitor_authorisations=StoreMonitorAuthorisations(consent.registry.store),
                              consent=consent, clock=consent.clock, **views)
    server = ApiServer(create_app(services), host=settings.host, port=settings.port,
                       max_head_bytes=settings.max_request_head_bytes, head_timeout_s=settings.request_head_timeout_s)
    url = server.start()
    if settings.run_ticker:
        services.start_ticker()
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(config.state_dir / "api_url", url)

    def stop() -> None:
        server.stop()
        services.close()
        close = getattr(scorer, "close", None)
        if close is not None:
            close()

    return stop
