"""`xyd platform merge-logs`: one database and one audit log for a platform that had two.

Until issue 18 the platform node kept its consent registry in `<state_dir>/consent/registry.db` (artefacts,
enterprise keys, the relay's directory, and the registry's log, which the source nodes witness) and its bank
API in `[api] database_url` (institutions, uses, feedback, alerts, and the API's own log, signed with the API's
key and witnessed by nobody). Now both live in the API's database with one log. With the platform stopped,
this moves the registry into the API's database so that every proof handed out stays checkable:

1. the API's log is kept whole as an archive (`archive_api_audit_*`: leaves, nodes, head, checkpoints), so a
   receipt a bank holds for it still verifies against its own checkpoints;
2. the registry's log becomes the platform's log as it is (same rows, indices, checkpoints), so the witnesses'
   cosigned checkpoints, banks' receipts and officers' saved checkpoints still prove consistent and the
   witnesses go on cosigning;
3. the registry's other tables are copied as they are;
4. the archived API leaves are appended to the one log byte for byte, and a `log_merged` leaf commits the one
   log to the archive's final head (consent/audit/merge.py); uses, feedback and alerts are re-pointed at their
   leaves' new places, so new receipts come from the witnessed log;
5. `registry.db` is renamed `registry.db.merged` (kept, never used again).
Steps 1 to 4 are one transaction on the API's database: it commits whole or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, Table, delete, func, insert, select, update

from consent.audit import AuditLog, open_engine, verify_log_rows
from consent.audit.merge import MergedLog, fold, merged_logs
from consent.authorisation.schema import registry_metadata, transitions
from errors import ConfigurationError, Conflict
from federation.config import NodeConfig
from platform_node.consent_registry.schema import relay_metadata
from platform_node.monitoring.schema import alerts
from platform_node.uses.schema import feedback_events, uses

log = logging.getLogger("xyd.platform.merge")

ARCHIVE_PREFIX = "archive_api_audit"
ACTOR = "platform/merge"
_INDEXED = ((uses, uses.c.audit_index), (feedback_events, feedback_events.c.audit_index),
            (alerts, alerts.c.audit_index))


class MergeRefused(Conflict):
    """The two logs cannot be merged as they are (already merged, or both hold registry data)."""


@dataclass(frozen=True)
class MergeReport:
    registry_leaves: int
    api_leaves: int
    merged: MergedLog
    copied_rows: dict[str, int]
    archived_registry_db: Path | None


def merge_logs(config: NodeConfig, *, now: datetime) -> MergeReport:
    """Merge the registry's database of a platform node config into its API database (see the module doc)."""
    from platform_node.api.embedded import api_settings, legacy_registry_db

    if "api" not in config.raw:
        raise ConfigurationError(f"{config.source}: no [api] table: this platform keeps one database already")
    registry_path = Path(str(config.section("consent").get("db") or legacy_registry_db(config)).removeprefix(
        "sqlite:///"))
    if not registry_path.exists():
        raise ConfigurationError(f"no registry database at {registry_path}: nothing to merge")
    target_url = api_settings(config).database_url
    if target_url == f"sqlite:///{registry_path}":
        raise ConfigurationError("the registry already is the API's database")
    source = open_engine(f"sqlite:///{registry_path}")
    target = open_engine(target_url)
    try:
        report = merge_databases(source, target, now=now)
    finally:
        source.dispose()
        target.dispose()
    archived = registry_path.with_name(registry_path.name + ".merged")
    for suffix in ("", "-wal", "-shm"):
        part = registry_path.with_name(registry_path.name + suffix)
        if part.exists():
            part.rename(part.with_name(archived.name + suffix))
    return MergeReport(report.registry_leaves, report.api_leaves, report.merged, report.copied_rows, archived)


def merge_databases(source: Engine, target: Engine, *, now: datetime) -> MergeReport:
    """The registry in `source` into the API's `target` database: archive the API's log, take the registry's
    log and tables as they are, fold the archive in (one transaction on `target`)."""
    registry_log, api_log = AuditLog(source), AuditLog(target)
    if merged_logs(api_log):
        raise MergeRefused("this database already holds a merged log")
    # Both logs must be whole before anything is moved: a tampered log is not merged, it is reported.
    registry_head = verify_log_rows(registry_log)
    api_head = verify_log_rows(api_log)
    archive = AuditLog(target, prefix=ARCHIVE_PREFIX)
    archive.tables.metadata.create_all(target, tables=archive.tables.all)
    registry_metadata.create_all(target)
    relay_metadata.create_all(target)
    copied: dict[str, int] = {}
    with target.begin() as conn, source.connect() as reading:
        for table in (*registry_metadata.sorted_tables, *relay_metadata.sorted_tables):
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise MergeRefused(f"{table.name} in the API's database is not empty: two registries cannot be merged")
        # 1. The API's log, whole, into the archive; its own tables emptied for the registry's.
        for name in ("head", "leaf", "node", "checkpoint"):
            live, kept = getattr(api_log.tables, name), getattr(archive.tables, name)
            copied[kept.name] = _copy(conn, conn, live, kept)
            conn.execute(delete(live))
        # 2. and 3. The registry's log and tables as they are.
        for name in ("head", "leaf", "node", "checkpoint"):
            copied[getattr(api_log.tables, name).name] = _copy(reading, conn, getattr(registry_log.tables, name),
                                                               getattr(api_log.tables, name))
        for table in (*registry_metadata.sorted_tables, *relay_metadata.sorted_tables):
            if source.dialect.has_table(reading, table.name):
                copied[table.name] = _copy(reading, conn, _reflected(reading, table), table)
        _reset_sequences(conn, [transitions.c.seq, api_log.tables.checkpoint.c.id, archive.tables.checkpoint.c.id])
        # 4. The archived leaves appended, committed to by a log_merged leaf; references re-pointed.
        merged = fold(conn, api_log, archive, actor=ACTOR, now=now)
        for table, column in _INDEXED:
            if target.dialect.has_table(conn, table.name):
                conn.execute(update(table).values({column.key: column + merged.first_index}))
    log.info("logs merged", extra={"registry_leaves": registry_head.size, "api_leaves": api_head.size,
                                   "merge_leaf": merged.merge_leaf})
    return MergeReport(registry_head.size, api_head.size, merged, copied, None)


def _reflected(conn: Connection, table: Table) -> Table:
    """The source's own version of a table (an older schema may lack newer columns; those take defaults)."""
    return Table(table.name, MetaData(), autoload_with=conn)


def _copy(reading: Connection, writing: Connection, source: Table, target: Table) -> int:
    columns = [c.name for c in source.columns if c.name in target.columns]
    rows = [dict(zip(columns, row, strict=True)) for row in reading.execute(select(*[source.c[c] for c in columns]))]
    for offset in range(0, len(rows), 500):
        writing.execute(insert(target), rows[offset:offset + 500])
    return len(rows)


def _reset_sequences(conn: Connection, columns: list) -> None:
    """PostgreSQL: after rows were copied with their own ids, move each serial column's sequence past them."""
    if conn.dialect.name != "postgresql":
        return
    for column in columns:
        table = column.table.name
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', '{column.name}'), "
                             f"COALESCE((SELECT MAX({column.name}) FROM {table}), 0) + 1, false)")
