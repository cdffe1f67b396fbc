"""Tables of risk monitoring: per-loan monitoring state, alerts, and the webhook outbox (with dead letters)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

monitoring_metadata = MetaData()

monitoring_state = Table(
    "platform_monitoring_state",
    monitoring_metadata,
    Column("use_id", String(32), primary_key=True),
    Column("baseline_score", Integer, nullable=False),
    Column("baseline_grade", String(8), nullable=False),
    Column("reference_score", Integer, nullable=False),
    Column("reference_grade", String(8), nullable=False),
    Column("last_score", Integer, nullable=True),
    Column("last_grade", String(8), nullable=True),
    Column("last_checked_at", Integer, nullable=True),
    Column("next_check_at", Integer, nullable=False, index=True),
    Column("last_failure", String(32), nullable=True),
)

alerts = Table(
    "platform_alerts",
    monitoring_metadata,
    Column("id", String(32), primary_key=True),
    Column("institution_id", String(128), nullable=False),
    Column("use_id", String(32), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("loan_application_ref", String(64), nullable=False),
    Column("authorisation_id", String(69), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("previous_score", Integer, nullable=False),
    Column("previous_grade", String(8), nullable=False),
    Column("score", Integer, nullable=False),
    Column("grade", String(8), nullable=False),
    Column("reason_codes", Text, nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("audit_index", BigInteger, nullable=False),
    Index("ix_platform_alerts_institution", "institution_id", "created_at"),
)

webhook_deliveries = Table(
    "platform_webhook_deliveries",
    monitoring_metadata,
    # Deliveries go out in the order they were queued (first in, first out per due time).
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("institution_id", String(128), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Integer, nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("created_at", Integer, nullable=False),
    Column("delivered_at", Integer, nullable=True),
    Index("ix_platform_webhook_due", "status", "next_attempt_at"),
)
