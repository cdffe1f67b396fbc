"""Tables of institutions, their API keys, data-security agreements and quota counters (SQLAlchemy Core).

Times are integer Unix seconds, as in the consent registry. Secrets are never stored: an API key only as
its HMAC under the server pepper, a webhook secret only sealed (AES-GCM) under a server key.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text

institution_metadata = MetaData()

institutions = Table(
    "platform_institutions",
    institution_metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("rate_per_s", Float, nullable=False),
    Column("burst", Integer, nullable=False),
    Column("daily_quota", Integer, nullable=False),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret_sealed", LargeBinary, nullable=True),
)

api_keys = Table(
    "platform_api_keys",
    institution_metadata,
    Column("key_id", String(32), primary_key=True),
    Column("institution_id", String(128), nullable=False, index=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("revoked_at", Integer, nullable=True),
)

agreements = Table(
    "platform_agreements",
    institution_metadata,
    Column("id", String(64), primary_key=True),
    Column("institution_id", String(128), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("reference", String(128), nullable=False),
    Column("not_before", Integer, nullable=False),
    Column("not_after", Integer, nullable=False),
    Column("recorded_at", Integer, nullable=False),
    Index("ix_platform_agreements_institution", "institution_id", "not_after"),
)

quota_usage = Table(
    "platform_quota_usage",
    institution_metadata,
    Column("institution_id", String(128), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("used", Integer, nullable=False),
)
