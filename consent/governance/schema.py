"""SQLAlchemy Core tables of a source node's governance state. Times are integer Unix seconds."""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table

governance_metadata = MetaData()

approvals = Table(
    "gov_approvals", governance_metadata,
    Column("approval_id", String(40), primary_key=True),
    Column("project", String(64), nullable=False, index=True),
    Column("terms", LargeBinary, nullable=False),  # canonical JSON of the requested terms
    Column("payload", LargeBinary, nullable=True),  # the signed payload, once approved
    Column("signature", LargeBinary(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

approval_transitions = Table(
    "gov_approval_transitions", governance_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("approval_id", String(40), nullable=False, index=True),
    Column("source", String(16), nullable=True),
    Column("target", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", Integer, nullable=False),
)

quota_usage = Table(
    "gov_quota_usage", governance_metadata,
    Column("approval_id", String(40), primary_key=True),
    Column("kind", String(16), primary_key=True),  # rows | queries
    Column("used", Integer, nullable=False),
)

catalogue_additions = Table(
    "gov_catalogue_additions", governance_metadata,
    Column("name", String(64), primary_key=True),
    Column("item", LargeBinary, nullable=False),  # canonical JSON of the accepted item
    Column("added_at", Integer, nullable=False),
)
