"""Consent requests and the enterprises' signed instructions, in the platform's database.

`consent_requests`: what a bank asked an enterprise for (data items, purpose, window, uses, loan reference;
the terms the enterprise is shown are built from this row and its account) and what became of it (PENDING,
APPROVED with the authorisation it became, DECLINED, EXPIRED). `consent_instructions`: every instruction an
enterprise signed (decline, pause, resume, revoke), kept as the signed bytes; (credit code, nonce) is unique,
so an instruction is acted on once.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint

consent_request_metadata = MetaData()

consent_requests = Table(
    "consent_requests",
    consent_request_metadata,
    Column("id", String(24), primary_key=True),
    Column("institution_id", String(128), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("spec", Text, nullable=False),  # canonical JSON of the request (see ConsentRequest.spec_json)
    Column("status", String(16), nullable=False),
    Column("authorisation_id", String(69), nullable=True, unique=True),
    Column("created_at", Integer, nullable=False),
    Column("respond_by", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
    Index("ix_consent_requests_bank", "institution_id", "created_at"),
    Index("ix_consent_requests_enterprise", "credit_code", "status"),
    Index("ix_consent_requests_due", "status", "respond_by"),
)

consent_instructions = Table(
    "consent_instructions",
    consent_request_metadata,
    Column("digest", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("nonce", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("target", String(69), nullable=False, index=True),
    Column("payload", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("recorded_at", Integer, nullable=False),
    UniqueConstraint("credit_code", "nonce", name="uq_consent_instructions_nonce"),
)
