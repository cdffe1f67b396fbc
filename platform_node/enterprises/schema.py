"""The enterprises' tables in the platform's database: accounts, the identity proofs accepted (so none is
accepted twice) and the nonces of signed requests within their window (so none is accepted twice).

Accounts hold the enterprise's public facts only (credit code, registered name, signatory, how identity was
checked, a digest of the evidence); keys are the consent registry's `consent_enterprise_keys` (public keys).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

enterprise_metadata = MetaData()

enterprise_accounts = Table(
    "enterprise_accounts",
    enterprise_metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("signatory", String(200), nullable=False),
    Column("signatory_role", String(32), nullable=False),
    Column("identity_check", String(32), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("evidence_digest", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

enterprise_proofs = Table(
    "enterprise_proofs",
    enterprise_metadata,
    Column("digest", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),
    Column("accepted_at", Integer, nullable=False),
)

enterprise_request_nonces = Table(
    "enterprise_request_nonces",
    enterprise_metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("nonce", String(32), primary_key=True),
    Column("expires_at", Integer, nullable=False, index=True),
)
