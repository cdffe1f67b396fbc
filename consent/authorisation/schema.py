"""SQLAlchemy Core tables: the registry's (keys, artefacts, transitions) and a source node's (budgets, nonces).

Times are stored as integer Unix seconds: portable across SQLite and PostgreSQL and cheap to compare.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table

from consent.authorisation.codec import utc_seconds

registry_metadata = MetaData()
node_metadata = MetaData()

enterprise_keys = Table(
    "consent_enterprise_keys",
    registry_metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("key_id", String(16), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("valid_from", Integer, nullable=False),
    Column("valid_until", Integer, nullable=True),
    Column("revoked_at", Integer, nullable=True),
)

authorisations = Table(
    "consent_authorisations",
    registry_metadata,
    Column("id", String(69), primary_key=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("grantee", String(128), nullable=False, index=True),
    Column("payload", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("not_after", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("registered_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)
Index("ix_consent_authorisations_status_not_after", authorisations.c.status, authorisations.c.not_after)

transitions = Table(
    "consent_transitions",
    registry_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("authorisation_id", String(69), nullable=False, index=True),
    Column("source", String(16), nullable=True),
    Column("target", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("at", Integer, nullable=False),
)

use_counters = Table(
    "consent_use_counters",
    node_metadata,
    Column("authorisation_id", String(69), primary_key=True),
    Column("uses", Integer, nullable=False),
)

field_counters = Table(
    "consent_field_counters",
    node_metadata,
    Column("authorisation_id", String(69), primary_key=True),
    Column("field", String(128), primary_key=True),
    Column("spent", Integer, nullable=False),
)

seen_nonces = Table(
    "consent_seen_nonces",
    node_metadata,
    Column("requester", String(128), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", Integer, nullable=False, index=True),
)


def to_epoch(moment: datetime) -> int:
    """Integer Unix seconds of an aware datetime."""
    return int(utc_seconds(moment).timestamp())


def from_epoch(seconds: int) -> datetime:
    """Aware UTC datetime of integer Unix seconds."""
    return datetime.fromtimestamp(seconds, UTC)
