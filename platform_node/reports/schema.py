"""Tables of report requests and subscriptions (SQLAlchemy Core; times in Unix seconds)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table

report_metadata = MetaData()

report_requests = Table(
    "platform_report_requests",
    report_metadata,
    Column("id", String(32), primary_key=True),
    Column("institution_id", String(128), nullable=False, index=True),
    Column("credit_code", String(18), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("items", Integer, nullable=False),
    Column("at", Integer, nullable=False),
)

subscriptions = Table(
    "platform_subscriptions",
    report_metadata,
    Column("id", String(32), primary_key=True),
    Column("institution_id", String(128), nullable=False, index=True),
    Column("district", String(6), nullable=True),
    Column("industry", String(64), nullable=True),
    Column("cursor", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", Integer, nullable=False),
)
