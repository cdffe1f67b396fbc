"""What a source node knows about its own governance: catalogue, approval key, store, policy, answer gate.

Config (all in the node's TOML file):

    [governance]
    approval_key = "/etc/xyd/tax-approval.pub"  # the unit administrator's Ed25519 public key (PEM)
    admin_listen = "127.0.0.1:7443"           # the admin HTTP endpoint (approvals, usage), loopback by default
    answer_block = 1000                       # answers counted per durable quota block on the scoring path

    [[catalogue.items]]                       # one per data item (column) the unit declares
    name = "revenue_12m_cny"
    category = "TAX"                          # a code of the reference data categories
    description = "Declared operating revenue, last 12 months"
    unit = "CNY"
    update_frequency = "monthly"
    sensitivity = "TRADE_SECRET"
    condition = "conditional"                 # unconditional | conditional | not_shared

or, instead of inline items, `[catalogue] file = "/etc/xyd/governance/catalogue.toml"`: a TOML file holding the
same `[[catalogue.items]]` tables (the administrator keeps it beside the approval key; the container manifest
mounts both from one volume). A relative path is resolved from the config's folder.

State: `<state_dir>/governance/governance.db` (approvals, their history, quota counters).
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from consent.audit.storage import open_engine
from consent.canonical_json import canonical_json
from consent.governance import (
    AnswerGate,
    ApprovalPolicy,
    ApprovalStore,
    Catalogue,
    CatalogueItem,
    GovernanceError,
    catalogue_from_config,
    load_approval_public_key,
)
from consent.governance.approval import public_key_bytes
from consent.governance.own_usage import OwnUsage
from consent.governance.policy import utc_now
from consent.governance.schema import catalogue_additions, governance_metadata
from federation.config import ConfigError, NodeConfig
from tables import LoadedTable

log = logging.getLogger("xyd.source.governance")
FLUSH_INTERVAL_S = 5.0


class CatalogueHolder:
    """The node's current catalogue; an accepted expansion replaces it (and drops cached answer decisions).

    With an engine, accepted items are kept in the node's database and applied over the configured catalogue at
    every start, so an expansion survives restarts."""

    def __init__(self, catalogue: Catalogue, engine: Engine | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Catalogue], None]] = []
        if engine is not None:
            governance_metadata.create_all(engine, tables=[catalogue_additions])
            with engine.connect() as conn:
                for row in conn.execute(select(catalogue_additions.c.item)).all():
                    catalogue = catalogue.with_item(CatalogueItem.from_json(json.loads(bytes(row.item))))
        self._catalogue = catalogue

    def __call__(self) -> Catalogue:
        return self._catalogue

    def add_listener(self, listener: Callable[[Catalogue], None]) -> None:
        self._listeners.append(listener)

    def add(self, item: CatalogueItem, *, now: datetime | None = None) -> Catalogue:
        with self._lock:
            if self._engine is not None:
                with self._engine.begin() as conn:
                    conn.execute(delete(catalogue_additions).where(catalogue_additions.c.name == item.name))
                    conn.execute(insert(catalogue_additions).values(
                        name=item.name, item=canonical_json(item.to_json()),
                        added_at=int((now or utc_now()).timestamp())))
            self._catalogue = self._catalogue.with_item(item)
            current = self._catalogue
        for listener in self._listeners:
            listener(current)
        return current


@dataclass
class SourceGovernance:
    """One source node's governance: everything the stage handlers, scoring and verification consult."""

    party: str
    table: LoadedTable
    catalogue: CatalogueHolder
    store: ApprovalStore
    policy: ApprovalPolicy
    answers: AnswerGate
    admin_listen: str
    clock: Callable[[], datetime]
    usage: OwnUsage

    def __post_init__(self) -> None:
        # The node's own count of answers is written every few seconds, so a crash loses at most that much.
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="xyd-usage-flush", daemon=True)
        self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.usage.flush()
            except Exception:  # a busy database: the counts stay in memory for the next flush
                log.exception("own usage record not flushed")

    @property
    def approval_key_bytes(self) -> bytes:
        return public_key_bytes(self.store.approval_key)

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=5)
        self.answers.close()
        self.usage.flush()


def catalogue_section(config: NodeConfig) -> Mapping[str, Any]:
    """The node's `[catalogue]`: inline `[[catalogue.items]]`, or those of the TOML file `[catalogue] file` names
    (never both, nothing else). Raises `ConfigError`."""
    section = config.section("catalogue")
    if "file" not in section:
        return section
    if set(section) != {"file"}:
        raise ConfigError(f"{config.source}: [catalogue] takes either `file` or `items`, not both")
    path = config.path(str(section["file"]))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config.source}: [catalogue] file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config.source}: [catalogue] file {path} is not valid TOML: {exc}") from None
    inner = raw.get("catalogue", {})
    if set(raw) != {"catalogue"} or not isinstance(inner, Mapping) or set(inner) != {"items"}:
        raise ConfigError(f"{config.source}: [catalogue] file {path} must hold `[[catalogue.items]]` tables only")
    return inner


def open_governance(config: NodeConfig, table: LoadedTable, party: str, *,
                    clock: Callable[[], datetime] = utc_now) -> SourceGovernance:
    """Read `[governance]` and `[catalogue]`, open the node's approval store. Raises `ConfigError`."""
    settings = config.section("governance")
    if "approval_key" not in settings:
        raise ConfigError(f"{config.source}: [governance] needs `approval_key`, the public key of the unit's "
                          "administrator (create it with `xyd approval keygen`)")
    try:
        key = load_approval_public_key(config.path(settings["approval_key"]))
        catalogue = catalogue_from_config(party, catalogue_section(config), columns=table.schema.column_names)
    except GovernanceError as exc:
        raise ConfigError(f"{config.source}: {exc}") from None
    state = config.state_dir / "governance"
    state.mkdir(parents=True, exist_ok=True)
    engine = open_engine(f"sqlite:///{state / 'governance.db'}")
    store = ApprovalStore(engine, source=party, approval_key=key)
    store.create_schema()
    holder = CatalogueHolder(catalogue, engine)
    policy = ApprovalPolicy(store, holder, clock=clock)
    answers = AnswerGate(policy, block=int(settings.get("answer_block", 1000)), clock=clock)
    holder.add_listener(lambda _: answers.invalidate())
    usage = OwnUsage(engine)
    usage.create_schema()
    log.info("governance ready", extra={"items": len(catalogue.items), "approvals": len(store.list())})
    return SourceGovernance(party, table, holder, store, policy, answers,
                            str(settings.get("admin_listen", "127.0.0.1:0")), clock, usage)
