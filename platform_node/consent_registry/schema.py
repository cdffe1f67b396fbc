"""The registry's network-facing tables, next to consent's own in the platform's database.

`consent_source_nodes`: where each source node answers and its certificate-bound keys (from `Announce`).
`consent_bank_keys`: each bank's certificate-bound request and sealing keys (from `PUT /v1/verification-keys`).
`consent_source_catalogues`: each source node's published data items (from `Announce`; names, categories,
sensitivities, types, periods, never values), with the digest its `verification_fields_published` leaf carries.
Bindings are stored as the signed bytes; whoever reads them re-checks them against the CA.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table

relay_metadata = MetaData()

source_nodes = Table(
    "consent_source_nodes",
    relay_metadata,
    Column("party", String(128), primary_key=True),
    Column("address", String(256), nullable=False),
    Column("binding", LargeBinary, nullable=False),
    Column("announced_at", Integer, nullable=False),
)

bank_keys = Table(
    "consent_bank_keys",
    relay_metadata,
    Column("party", String(128), primary_key=True),
    Column("binding", LargeBinary, nullable=False),
    Column("issued_at", Integer, nullable=False),
    Column("registered_at", Integer, nullable=False),
)

source_catalogues = Table(
    "consent_source_catalogues",
    relay_metadata,
    Column("party", String(128), primary_key=True),
    Column("catalogue", LargeBinary, nullable=False),  # canonical JSON list of fields
    Column("digest", String(64), nullable=False),
    Column("published_at", Integer, nullable=False),
)
