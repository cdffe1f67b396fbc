"""A source unit's governance world for tests: its catalogue, approval key, store and policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from consent.audit.storage import open_engine
from consent.governance import (
    ApprovalPolicy,
    ApprovalStore,
    ApprovalTerms,
    Catalogue,
    CatalogueItem,
    Quotas,
    Serving,
    sign_approval,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SOURCE = "source/tax"
PLATFORM = "platform/main"


def item(name: str, condition: str, *, category: str = "TAX", sensitivity: str = "TRADE_SECRET") -> CatalogueItem:
    return CatalogueItem(name=name, category=category, description=f"{name} of the last 12 months", unit="CNY",
                         update_frequency="monthly", sensitivity=sensitivity, condition=condition)


CATALOGUE = Catalogue(SOURCE, (
    item("revenue", "conditional"),
    item("vat_paid", "conditional"),
    item("arrears_months", "conditional"),
    item("a_level", "unconditional", sensitivity="PUBLIC"),
    item("owner_id_hash", "not_shared", sensitivity="PERSONAL"),
))


def terms(**changes: Any) -> ApprovalTerms:
    base = dict(
        source=SOURCE, project="credit-2026", purpose="RISK_MODELLING", description="SME default model",
        leader=PLATFORM, counterparties=("source/social_insurance", "coordinator/main"),
        items=("revenue", "vat_paid"), algorithms={"psi": 0, "secureboost": 2048},
        serving=Serving(online=True, institutions=("bank/icbc-sz",), institution_kinds=()),
        quotas=Quotas(rows=1_000_000, queries=1_000), not_before=T0, not_after=T0 + timedelta(days=90),
        requested_by="admin/operator",
    )
    base.update(changes)
    return ApprovalTerms(**base)


@dataclass
class World:
    engine: Engine
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    catalogue: Catalogue = CATALOGUE

    def __post_init__(self) -> None:
        self.store = ApprovalStore(self.engine, source=SOURCE, approval_key=self.key.public_key())
        self.store.create_schema()
        self.policy = ApprovalPolicy(self.store, lambda: self.catalogue, clock=lambda: T0)

    def approve(self, approval_terms: ApprovalTerms | None = None, *, key: Ed25519PrivateKey | None = None):
        approval_terms = approval_terms or terms()
        self.store.file_request(approval_terms, actor="admin/operator", now=T0)
        signed = sign_approval(approval_terms, key or self.key, signed_at=T0)
        return self.store.approve(signed, actor="admin/tax", now=T0)


def sqlite_world(tmp_path, name: str = "gov.db") -> World:
    return World(open_engine(f"sqlite:///{tmp_path / name}"))
