"""SQLAlchemy Core tables of the city-wide governance records (kept by the coordinator). Integer Unix seconds."""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, Text

registry_metadata = MetaData()

catalogue_versions = Table(
    "gov_catalogue_versions", registry_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),  # canonical JSON of the city-wide list
    Column("cause", String(200), nullable=False),
    Column("created_at", Integer, nullable=False),
)

expansion_requests = Table(
    "gov_expansion_requests", registry_metadata,
    Column("request_id", String(40), primary_key=True),
    Column("source", String(128), nullable=False, index=True),
    Column("item", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    Column("description", Text, nullable=False),  # what
    Column("reason", Text, nullable=False),  # why
    Column("intended_use", Text, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decision_reason", Text, nullable=False),
    Column("condition", String(16), nullable=False),
    Column("filed_at", Integer, nullable=False),
    Column("decided_at", Integer, nullable=True),
)

approval_directory = Table(
    "gov_approval_directory", registry_metadata,
    Column("approval_id", String(40), primary_key=True),
    Column("source", String(128), nullable=False, index=True),
    Column("project", String(64), nullable=False),
    Column("terms", LargeBinary, nullable=False),
    Column("signed", Text, nullable=True),  # the signed approval (JSON) once the unit approved
    Column("status", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("filed_by", String(128), nullable=False),
    Column("updated_at", Integer, nullable=False),
)
