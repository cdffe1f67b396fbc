"""A small platform for the API tests: a manual clock, a local scorecard over three source units, a
platform database with its audit log, and onboarded institutions. No tests here."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.audit import Ed25519Signer, open_engine
from consent.authorisation import (
    AuthorisedBy,
    DataCategory,
    EnterpriseKeyRegistry,
    IdentityCheck,
    Mode,
    Purpose,
    Sensitivity,
    SignatoryRole,
    Status,
    Subject,
    Terms,
    TransitionReason,
    sign_terms,
)
from consent.credit_code import generate_credit_code
from models.scorecard import ScorecardParams
from models.scorecard.points_table import Bin, Characteristic, Scorecard
from platform_node.api.server_secrets import PlatformSecrets
from platform_node.api.services import PlatformServices, build_services
from platform_node.api.settings import ApiSettings
from platform_node.institutions.agreements import AgreementScope
from platform_node.institutions.model import InstitutionKind, InstitutionLimits, Role
from platform_node.institutions.webhook_targets import Resolver, system_resolver
from platform_node.reports.public_records import InMemoryPublicRecords, PublicRecord
from platform_node.scoring.local_scorecard import InMemoryFeatureSource, LocalScorecardScorer
from platform_node.scoring.scorer import PartialFailurePolicy

T0 = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
TAX, SOCIAL, COURT = "source/tax", "source/social_insurance", "source/court"
BANK_A, BANK_B, COMPLIANCE, ADMIN = "bank/alpha", "bank/beta", "regulator/pboc", "platform/ops"
# Feature values chosen to be recognisable if they ever leaked into a response or a log line.
SECRET_TAX_PAID = 1_234_567.89


class ManualClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> datetime:
        self.moment += timedelta(seconds=seconds)
        return self.moment


SCORECARD = Scorecard(
    base_points=560,
    characteristics=(
        Characteristic("tax_paid", TAX, "tax", (Bin(50_000, 5), Bin(200_000, 20), Bin(1_000_000, 35), Bin(None, 50)), 10),
        Characteristic("tax_arrears", TAX, "tax", (Bin(0.5, 30), Bin(None, -10)), 0),
        Characteristic("insured_headcount", SOCIAL, "social_insurance",
                       (Bin(5, 5), Bin(20, 20), Bin(100, 30), Bin(None, 40)), 8),
        Characteristic("enforcement_cases", COURT, "court_records", (Bin(0.5, 40), Bin(2, 10), Bin(None, -20)), 15),
    ),
    scale=ScorecardParams(base_score=600, base_odds=50.0, pdo=40.0),
)


def enterprises(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    codes: list[str] = []
    while len(codes) < count:
        code = generate_credit_code(rng)
        if code not in codes:
            codes.append(code)
    return codes


def feature_sources(codes: list[str], seed: int = 11) -> dict[str, InMemoryFeatureSource]:
    rng = random.Random(seed)
    tax, social, court = {}, {}, {}
    for i, code in enumerate(codes):
        tax[code] = {"tax_paid": SECRET_TAX_PAID if i == 0 else round(rng.uniform(1e4, 3e6), 2),
                     "tax_arrears": float(rng.random() < 0.1)}
        social[code] = {"insured_headcount": float(rng.randint(1, 300))}
        court[code] = {"enforcement_cases": float(rng.random() < 0.15)}
    return {TAX: InMemoryFeatureSource(TAX, tax), SOCIAL: InMemoryFeatureSource(SOCIAL, social),
            COURT: InMemoryFeatureSource(COURT, court)}


def local_scorer(sources: dict[str, InMemoryFeatureSource],
                 policy: PartialFailurePolicy = PartialFailurePolicy.FAIL_ENTERPRISE) -> LocalScorecardScorer:
    return LocalScorecardScorer(SCORECARD, list(sources.values()), model_id="scorecard-test", model_version="3",
                                policy=policy, chunk_size=500)


@dataclass
class Platform:
    services: PlatformServices
    clock: ManualClock
    codes: list[str]
    sources: dict[str, InMemoryFeatureSource]
    records: InMemoryPublicRecords
    keys: dict[str, str] = field(default_factory=dict)
    enterprise_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    def headers(self, institution: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[institution]}"}

    def authorise_monitoring(self, credit_code: str, grantee: str, *, days: int = 365) -> str:
        """Register and activate an enterprise-signed MONITOR authorisation in the platform's registry."""
        services, now = self.services, self.clock()
        store = services.authorisations
        key = self.enterprise_keys.get(credit_code)
        if key is None:
            key = self.enterprise_keys[credit_code] = Ed25519PrivateKey.generate()
            EnterpriseKeyRegistry(services.engine).bind(credit_code, key.public_key(), valid_from=now - timedelta(days=1))
        terms = Terms(
            subject=Subject(credit_code, "Test Enterprise Co."),
            authorised_by=AuthorisedBy("Legal Rep", SignatoryRole.LEGAL_REPRESENTATIVE, IdentityCheck.CA_CERTIFICATE),
            grantee=grantee, providers=(TAX, SOCIAL, COURT),
            categories=(DataCategory("tax", Sensitivity.TRADE_SECRET),),
            mode=Mode.MONITOR, purpose=Purpose.POST_LOAN_MONITORING, loan_application_ref="LA-MON-1",
            created_at=now, not_before=now, not_after=now + timedelta(days=days), max_uses=1000,
            data_range=("2025",), data_life_days=30, feedback_deadline_days=30,
        )
        store.register(sign_terms(terms, key, signed_at=now), actor="platform/ops", now=now)
        store.transition(terms.id, Status.ACTIVE, actor="platform/ops", reason=TransitionReason.IDENTITY_CONFIRMED,
                         now=now)
        return terms.id


def build_platform(tmp_path: Path, *, enterprise_count: int = 40, settings: ApiSettings | None = None,
                   policy: PartialFailurePolicy = PartialFailurePolicy.FAIL_ENTERPRISE,
                   database_url: str | None = None, webhook_resolver: Resolver = system_resolver) -> Platform:
    """The platform's services over the local scorer, with four institutions; SQLite in `tmp_path` unless
    `database_url` names another database."""
    clock = ManualClock()
    codes = enterprises(enterprise_count)
    sources = feature_sources(codes)
    records = InMemoryPublicRecords(enterprises=codes)
    settings = settings or ApiSettings(database_url=database_url or f"sqlite:///{tmp_path / 'platform.db'}",
                                       allow_insecure_webhooks_for_tests=True, webhook_timeout_s=2.0)
    services = build_services(
        settings, scorer=local_scorer(sources, policy), public_records=records,
        secrets=PlatformSecrets.from_master(bytes(range(32))), engine=open_engine(settings.database_url),
        clock=clock, rng=random.Random(5), log_signer=Ed25519Signer.generate("xyd.test/audit"),
        webhook_resolver=webhook_resolver,
    )
    platform = Platform(services, clock, codes, sources, records)
    limits = InstitutionLimits(rate_per_s=50.0, burst=100, daily_quota=100_000)
    for ident, role in ((BANK_A, Role.BANK), (BANK_B, Role.BANK), (COMPLIANCE, Role.COMPLIANCE), (ADMIN, Role.ADMIN)):
        kind, slug = ident.split("/")
        _, key = services.institutions.add(kind=InstitutionKind(kind), slug=slug, name=ident, role=role, now=clock(),
                                           limits=limits)
        platform.keys[ident] = key.token
    for bank in (BANK_A, BANK_B):
        services.agreements.record(bank, scopes=list(AgreementScope), reference=f"DSA-{bank.split('/')[1]}",
                                   not_before=clock() - timedelta(days=1), not_after=clock() + timedelta(days=365),
                                   now=clock())
    return platform


def write_scorecard_model(folder: Path, codes: list[str]) -> Path:
    """The test scorecard as a local model file (`[api] scorer_model_file`) with CSV tables of `codes`'
    features, for `xyd api serve` processes."""
    tables = {}
    for name, source in feature_sources(codes).items():
        rows = source.fetch(codes)
        features = sorted(next(iter(rows.values())))
        csv_path = folder / f"{name.split('/')[1]}.csv"
        lines = ["credit_code," + ",".join(features)]
        lines += [code + "," + ",".join(str(rows[code][f]) for f in features) for code in codes]
        csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tables[name] = csv_path.name
    spec = {
        "model_id": "scorecard-cli", "model_version": "1", "base_points": SCORECARD.base_points,
        "scale": {"base_score": 600, "base_odds": 50.0, "pdo": 40.0},
        "characteristics": [
            {"feature": c.feature, "source": c.source, "category": c.category, "missing_points": c.missing_points,
             "bins": [[b.upper, b.points] for b in c.bins]} for c in SCORECARD.characteristics
        ],
        "tables": tables,
    }
    path = folder / "model.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def public_record(item_id: str, code: str, category: str, *, district: str = "330106", industry: str = "C13",
                  sensitivity: Sensitivity = Sensitivity.PUBLIC, at: datetime = T0) -> PublicRecord:
    return PublicRecord(item_id=item_id, credit_code=code, category=category, sensitivity=sensitivity,
                        source_unit="source/market", published_at=at, district=district, industry=industry,
                        title=f"{category} item {item_id}", fields={"authority": "Market Regulation Bureau"})
