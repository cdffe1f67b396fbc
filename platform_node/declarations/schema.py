"""Self-declared information, every version kept: the signed statement (or, for a withdrawal, the signed
instruction), its status (CURRENT, SUPERSEDED, WITHDRAWN) and visibility. (credit code, version) is unique, so
two writers cannot both make version n."""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, UniqueConstraint

declaration_metadata = MetaData()

declarations = Table(
    "enterprise_declarations",
    declaration_metadata,
    Column("id", String(24), primary_key=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("visibility", String(16), nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("recorded_at", Integer, nullable=False),
    UniqueConstraint("credit_code", "version", name="uq_enterprise_declarations_version"),
)
