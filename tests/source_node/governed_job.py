"""A job run in one process over an `InMemoryHub`: the platform's and source nodes' real stage handlers, the
sources under governance. For tests that need to see every message (leakage) or act between two of them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit.storage import open_engine
from consent.governance import (
    AnswerGate,
    ApprovalPolicy,
    ApprovalStore,
    ApprovalTerms,
    Catalogue,
    CatalogueItem,
    Quotas,
    Serving,
    sign_approval,
)
from consent.governance.own_usage import OwnUsage
from federation.channel import InMemoryHub
from federation.config import NodePolicy
from federation.tasks import Handler, TaskContext
from jobspec.spec import JobSpec, parse_job_spec
from platform_node.stages.psi import make_psi_handler as platform_psi
from platform_node.stages.secureboost import make_publish_handler as platform_publish
from platform_node.stages.secureboost import make_train_handler as platform_train
from sandbox.synthdata.columns import UnitSpec, render_schema
from sandbox.synthdata.units import tax
from source_node.governance.node_governance import CatalogueHolder, SourceGovernance
from source_node.node import governed_handlers
from tables import LoadedTable, load_table
from tests.consent.governance_world import T0

PLATFORM, TAX = "platform/main", "source/tax"
TEST_POLICY = NodePolicy(allow_insecure_keys_for_tests=True, allow_plaintext_training=True)
NOT_SHARED, UNAPPROVED = "late_filings_12m", "invoices_issued_12m"


def tax_catalogue(columns: tuple[str, ...]) -> Catalogue:
    """Every tax column conditional, except the public A-level list (unconditional) and late filings
    (not_shared)."""
    def condition(name: str) -> str:
        return {"a_level_taxpayer": "unconditional", NOT_SHARED: "not_shared"}.get(name, "conditional")

    return Catalogue(TAX, tuple(CatalogueItem(name=c, category="TAX", description=c.replace("_", " "), unit="",
                                              update_frequency="monthly", sensitivity="TRADE_SECRET",
                                              condition=condition(c)) for c in columns))


def approval_terms(items: tuple[str, ...], **changes: Any) -> ApprovalTerms:
    values = dict(source=TAX, project="credit-2026", purpose="RISK_MODELLING", description="test",
                  leader=PLATFORM, counterparties=(), items=items, algorithms={"psi": 0, "secureboost": 0},
                  serving=Serving(online=True, institution_kinds=("bank",)), quotas=Quotas(10**9, 10**9),
                  not_before=T0 - timedelta(days=1), not_after=T0 + timedelta(days=30),
                  requested_by="admin/operator")
    values.update(changes)
    return ApprovalTerms(**values)


def write_tax_without(data: Path, dropped: tuple[str, ...], out: Path) -> tuple[Path, Path]:
    """The tax table and schema with `dropped` columns removed from the file itself."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(data / "tax.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=list(dropped)).to_csv(out / "tax.csv", index=False, lineterminator="\n")
    spec = UnitSpec(tax.SPEC.name, tax.SPEC.category, tax.SPEC.description,
                    tuple(c for c in tax.SPEC.columns if c.name not in dropped))
    (out / "tax.toml").write_text(render_schema(spec), encoding="utf-8")
    return out / "tax.toml", out / "tax.csv"


@dataclass
class GovernedSource:
    """A tax source node's governance, in process."""

    table: LoadedTable
    folder: Path
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store_engine = open_engine(f"sqlite:///{self.folder / 'gov.db'}")
        self.store = ApprovalStore(self.store_engine, source=TAX, approval_key=self.key.public_key())
        self.store.create_schema()
        holder = CatalogueHolder(tax_catalogue(self.table.schema.column_names))
        policy = ApprovalPolicy(self.store, holder, clock=lambda: T0)
        usage = OwnUsage(self.store_engine)
        usage.create_schema()
        self.governance = SourceGovernance(TAX, self.table, holder, self.store, policy,
                                           AnswerGate(policy, clock=lambda: T0), "127.0.0.1:0", lambda: T0, usage)

    def approve(self, terms: ApprovalTerms) -> str:
        self.store.file_request(terms, actor="admin/operator", now=T0)
        self.store.approve(sign_approval(terms, self.key, signed_at=T0), actor="admin/tax", now=T0)
        return terms.approval_id

    def handlers(self) -> dict[str, Handler]:
        return governed_handlers(self.governance, TEST_POLICY)


def platform_handlers(table: LoadedTable, label: str = "default") -> dict[str, Handler]:
    return {"psi": platform_psi([str(i) for i in table.ids]), "train": platform_train(table, label, TEST_POLICY),
            "publish": platform_publish()}


def job(passive: str = TAX, *, project: str | None = "credit-2026", items: str = "", trees: int = 3,
        encryption: bool = False) -> JobSpec:
    lines = ['[job]', 'name = "governed"', 'stages = ["psi", "train", "publish"]']
    if project:
        lines.append(f'project = "{project}"')
    lines += ["[parties]", f'active = "{PLATFORM}"', f'passive = ["{passive}"]']
    if items:
        lines += ["[items]", f'"{passive}" = [{items}]']
    lines += ["[train]", 'algorithm = "secureboost"', f"n_trees = {trees}", "max_depth = 2",
              f"encryption = {'true' if encryption else 'false'}", "key_bits = 1024",
              "timeout_seconds = 30", "holdout = 0.2"]
    return parse_job_spec("\n".join(lines) + "\n")


@dataclass
class StageOutcome:
    results: dict[str, Mapping[str, Any]]
    errors: dict[str, BaseException]


def run_stage(spec: JobSpec, stage: str, handlers: Mapping[str, Mapping[str, Handler]], root: Path, *,
              job_id: str = "job-1", tap: Callable[[str, str, str, bytes], None] | None = None,
              wire: list | None = None) -> StageOutcome:
    """Every party's handler of `stage` in its own thread; a failure closes the others' mailboxes."""
    hub = InMemoryHub(tuple(spec.parties), tap=tap)
    params = spec.stage_params(stage)
    outcome = StageOutcome({}, {})

    def one(party: str) -> None:
        work = root / party.replace("/", "-") / "jobs" / job_id
        work.mkdir(parents=True, exist_ok=True)
        ctx = TaskContext(job_id, stage, params, hub.channel(party), {p: "" for p in spec.parties}, work)
        try:
            outcome.results[party] = handlers[party][stage](ctx)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome.errors[party] = exc
            for other in spec.parties:
                hub.mailbox(other).close(f"{party} failed")

    threads = [threading.Thread(target=one, args=(p,)) for p in spec.parties]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if wire is not None:
        wire.extend(hub.wire)
    return outcome


def load_tax(data: Path) -> LoadedTable:
    return load_table(data / "tax.toml", data / "tax.csv")
