"""The consent part of `xyd demo`: verification (核验) over the running processes, then the compliance check.

Shows, against a live platform and source node: a bank refused without authorisation; the enterprise signing
one; the same question answered (true, then false for a higher threshold); a revocation followed by a
refusal; checkpoint chain (against each witness's latest cosigned checkpoint, asked over mTLS), receipts and
the source node's own log all checking out; then a registry log row edited behind the platform's back, and
the newest rows and checkpoints deleted with the head rewritten, both detected. Returns True only if every
step turned out as expected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from cli.bank_client import BankClient, BankKeys
from cli.compliance.checks import cross_check_source, verify_chain
from cli.compliance.officer import WitnessEndpoint
from cli.compliance.witness_client import ask_witnesses
from cli.registry_admin import RegistryAdmin
from consent.audit import (
    AuditLog,
    HistoryReport,
    LogTamperedError,
    LogTruncatedError,
    LogTrust,
    open_engine,
    verify_receipt,
)
from consent.authorisation import (
    AuthorisedBy,
    DataCategory,
    IdentityCheck,
    Mode,
    Purpose,
    Sensitivity,
    SignatoryRole,
    SignedTerms,
    Status,
    Subject,
    Terms,
    TransitionReason,
    sign_terms,
)
from consent.merkle import leaf_hash
from federation.pki import CertificateAuthority, Identity, NodeTls, node_directory
from sandbox.audit_attacks import restore, snapshot, truncate
from tables import ColumnType, load_schema

OPERATOR = Identity("admin", "operator")
OFFICER = Identity("admin", "compliance")


def utc_now() -> datetime:
    return datetime.now(UTC)


def demo_terms(credit_code: str, *, grantee: str, providers: tuple[str, ...], categories: tuple[str, ...],
               now: datetime, mode: Mode = Mode.VERIFY, max_uses: int = 20, period: str = "2025",
               purpose: Purpose = Purpose.PRE_LOAN_REVIEW, loan_ref: str = "LA-2026-0001") -> Terms:
    """Terms an enterprise might sign for a pre-loan review: valid from an hour ago for 30 days."""
    return Terms(
        subject=Subject(credit_code, "Demo Enterprise Co., Ltd."),
        authorised_by=AuthorisedBy("Legal Representative", SignatoryRole.LEGAL_REPRESENTATIVE,
                                   IdentityCheck.CA_CERTIFICATE),
        grantee=grantee, providers=providers,
        categories=tuple(DataCategory(c, Sensitivity.TRADE_SECRET) for c in categories),
        mode=mode, purpose=purpose, loan_application_ref=loan_ref,
        created_at=now - timedelta(minutes=5), not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30),
        max_uses=max_uses, data_range=(period,), data_life_days=90, feedback_deadline_days=30,
    )


def enterprise_signs(admin: RegistryAdmin, terms: Terms, key: Ed25519PrivateKey, *, now: datetime) -> SignedTerms:
    """The enterprise signs the terms with its bound key; the portal submits them and, identity checked,
    activates them."""
    artefact = sign_terms(terms, key, signed_at=now - timedelta(seconds=5))
    admin.submit(artefact, actor="admin/portal", activate=True)
    return artefact


def credentials(pki_dir: Path, identity: Identity) -> NodeTls:
    """The certificate of `identity`, issued by the federation CA on first use."""
    if not (node_directory(pki_dir, identity) / "cert.pem").exists():
        CertificateAuthority.load(pki_dir).issue(identity)
    return NodeTls.load_issued(pki_dir, identity)


@dataclass(frozen=True)
class DemoSubject:
    """The enterprise and the numeric field the demo asks about, with the value the generator wrote."""

    credit_code: str
    field: str
    category: str
    value: float


def pick_subject(schema: Path, table: Path, field: str | None = None) -> DemoSubject:
    """An enterprise with a positive value in a protected numeric column of the source's table."""
    declared = load_schema(schema)
    numeric = [c for c in declared.columns if c.type in (ColumnType.INT, ColumnType.FLOAT) and not c.sensitivity.is_public]
    column = next(c for c in numeric if field is None or c.name == field)
    frame = pd.read_csv(table, dtype={declared.id_column: str})
    row = frame[frame[column.name] > 0].iloc[0]
    return DemoSubject(str(row[declared.id_column]), column.name, column.category, float(row[column.name]))


def run_consent_demo(
    *,
    pki_dir: Path,
    platform_address: str,
    registry_db: Path,
    source: str,
    source_db: Path,
    source_schema: Path,
    source_table: Path,
    witness_addresses: Mapping[str, str],
    period: str = "2025",
    bank: str = "demo-bank",
    out: Callable[[str], None] = print,
    clock: Callable[[], datetime] = utc_now,
) -> bool:
    """Run the consent scenario against running processes; True if every step gave the expected result.
    `witness_addresses` maps each source party to its server's address (the officer asks them directly)."""
    subject = pick_subject(source_schema, source_table)
    low, high = int(subject.value // 2), int(subject.value * 2) + 1
    ok = True

    def expect(condition: bool, line: str) -> None:
        nonlocal ok
        ok = ok and condition
        out(f"      {line}" + ("" if condition else "   <-- UNEXPECTED"))

    with RegistryAdmin(credentials(pki_dir, OPERATOR), platform_address) as admin, \
            BankClient(credentials(pki_dir, Identity("bank", bank)), platform_address, keys=BankKeys.generate()) as client:
        now = clock()
        client.register_keys(now=now)
        enterprise_key = Ed25519PrivateKey.generate()
        admin.bind_enterprise_key(subject.credit_code, enterprise_key.public_key(), valid_from=now - timedelta(days=1))
        out(f"      {client.identity} registered its keys; enterprise {subject.credit_code} has its signing key bound")
        terms = demo_terms(subject.credit_code, grantee=client.identity, providers=(source,),
                           categories=(subject.category,), now=now, period=period)
        question = f"{subject.field} >= {low}"

        unsigned = sign_terms(terms, Ed25519PrivateKey.generate(), signed_at=now)  # not the enterprise's key
        result = client.verify(unsigned, provider=source, question=question, now=clock())
        expect(result.refusal == "NOT_AUTHORISED",
               f"without authorisation: '{question}' at {source} -> refused {result.refusal}")

        artefact = enterprise_signs(admin, terms, enterprise_key, now=clock())
        out(f"      enterprise signs {artefact.terms.id[:17]}… ({terms.mode.value}, {terms.purpose.value}, "
            f"{subject.category}, {terms.max_uses} uses, 30 days); the platform activates it")
        answered = []
        for threshold, expected in ((low, True), (high, False)):
            asked = f"{subject.field} >= {threshold}"
            result = client.verify(artefact, provider=source, question=asked, now=clock())
            answered.extend(r.index for r in result.receipts)
            expect(result.holds is expected,
                   f"with authorisation: '{asked}' -> {str(result.holds).lower()} "
                   f"(signed by {source}, sealed to the bank; registry leaf {result.receipts[0].index if result.receipts else '-'})")

        admin.change_status(artefact.terms.id, Status.REVOKED, actor=f"enterprise/{subject.credit_code}",
                            reason=TransitionReason.ENTERPRISE_REVOKED)
        result = client.verify(artefact, provider=source, question=question, now=clock())
        expect(result.refusal == "REVOKED", f"enterprise revokes; same question -> refused {result.refusal}")

        publication = admin.publish_checkpoint()
        trust = admin.log_trust(now=clock())
        expect(publication.size > 0 and not publication.refusals,
               f"checkpoint of {publication.size} leaves cosigned by {len(trust.witnesses)} witness(es)")
        good = 0
        for index in answered:
            event, _ = verify_receipt(client.receipt(index), trust.log, witnesses=trust.witnesses, quorum=trust.quorum)
            good += event.use_id is not None
        expect(good == len(answered) == 2, f"bank's inclusion receipts: {good} of {len(answered)} verify")

    log = AuditLog(open_engine(f"sqlite:///{registry_db}"))
    officer = credentials(pki_dir, OFFICER)
    witnesses = [WitnessEndpoint(w, witness_addresses[w.name]) for w in trust.witnesses if w.name in witness_addresses]

    def compliance_check(trust: LogTrust = trust) -> HistoryReport:
        return verify_chain(log, trust=trust, witness_answers=ask_witnesses(officer, witnesses, trust.log.name))

    chain = compliance_check()
    expect(chain.rows_checked >= publication.size and len(chain.held) == len(witnesses) > 0,
           f"compliance: {len(chain.stored)} checkpoint(s) and {len(chain.held)} witnesses' latest cosigned ones "
           f"are prefixes of the stored log; {chain.rows_checked} stored leaves recomputed")
    report = cross_check_source(log, open_engine(f"sqlite:///{source_db}"), source=source, trust=trust)
    expect(report.complete and not report.unexpected,
           f"cross-check {source}: {report.checked} records in its own log, {len(report.matched)} proven in the "
           f"registry, {len(report.missing)} missing, {len(report.unexpected)} unexpected")

    index = answered[0]
    original = log.leaf(index).leaf
    forged = original.replace(b'"kind":"verification_answered"', b'"kind":"request_refused","reason_code":"PAUSED"')
    table = log.tables.leaf
    with log.engine.begin() as conn:  # a DBA rewrites a use as a refusal, hash column included
        conn.execute(update(table).where(table.c.idx == index).values(leaf=forged, leaf_hash=leaf_hash(forged)))
    try:
        compliance_check()
        expect(False, "tampered registry row NOT detected")
    except LogTamperedError as exc:
        expect(True, f"registry row {index} rewritten in the database -> detected: {exc}")
    finally:
        with log.engine.begin() as conn:
            conn.execute(update(table).where(table.c.idx == index).values(leaf=original, leaf_hash=leaf_hash(original)))
    out(f"      (digest of the forged row: {hashlib.sha256(forged).hexdigest()[:16]}…; original restored)")

    kept = snapshot(registry_db)
    try:  # a DBA deletes the newest rows and checkpoints and rewrites the head: the log agrees with itself
        truncate(log, publication.size - 2)
        compliance_check()
        expect(False, "truncated registry log NOT detected")
    except LogTruncatedError as exc:
        expect(True, f"newest 2 rows and their checkpoint deleted, head rewritten -> detected: {exc}")
    finally:
        restore(registry_db, kept)
        kept.close()
    out("      (database restored)")
    return ok
