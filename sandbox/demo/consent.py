"""The consent part of `xyd demo`: an enterprise in control of verification (核验) over HTTP, then compliance.

The bank (`xyd bank`) and the enterprise (`xyd enterprise`) are separate processes talking to the platform's
HTTP API, the enterprise signing with a key it created on its side. Shown against the live platform and a
source node: the enterprise signs up with its certificate; the bank asks for consent to two data items; the
enterprise sees the exact terms and approves them by signing; the bank's checks are answered (true, then false),
sealed to the bank; the enterprise pauses (refused), resumes (answered), revokes (refused) and lists every use
with its receipt; it declares extra information under a credit commitment, which the bank's report shows
flagged as self-declared, apart from authoritative data. Then compliance: a cosigned checkpoint, the bank's receipts, the whole log against each witness,
the source node's own log; a rewritten row and a truncated log, both detected. Returns True only if every step
turned out as expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import update

from cli.bank_http import BankHttpClient
from cli.bank_keys import BankKeys
from cli.compliance.checks import cross_check_source, verify_chain
from cli.compliance.officer import WitnessEndpoint
from cli.compliance.witness_client import ask_witnesses
from cli.registry_admin import RegistryAdmin
from consent.audit import AuditLog, HistoryReport, LogTamperedError, LogTruncatedError, LogTrust, open_engine
from consent.merkle import leaf_hash
from federation.pki import CertificateAuthority, Identity, NodeTls, node_directory
from sandbox.audit_attacks import restore, snapshot, truncate
from sandbox.http_parties import bank_party, enterprise_party, xyd
from tables import ColumnType, load_schema

OPERATOR = Identity("admin", "operator")
OFFICER = Identity("admin", "compliance")


def utc_now() -> datetime:
    return datetime.now(UTC)


def credentials(pki_dir: Path, identity: Identity) -> NodeTls:
    """The certificate of `identity`, issued by the federation CA on first use."""
    if not (node_directory(pki_dir, identity) / "cert.pem").exists():
        CertificateAuthority.load(pki_dir).issue(identity)
    return NodeTls.load_issued(pki_dir, identity)


@dataclass(frozen=True)
class DemoSubject:
    """The enterprise and the numeric fields the demo asks about, with the value the generator wrote."""

    credit_code: str
    field: str
    other_field: str
    value: float


def pick_subject(schema: Path, table: Path) -> DemoSubject:
    """An enterprise with a positive value in a protected numeric column of the source's table."""
    declared = load_schema(schema)
    numeric = [c for c in declared.columns if c.type in (ColumnType.INT, ColumnType.FLOAT) and not c.sensitivity.is_public]
    column, other = numeric[0], numeric[1]
    frame = pd.read_csv(table, dtype={declared.id_column: str})
    row = frame[frame[column.name] > 0].iloc[0]
    return DemoSubject(str(row[declared.id_column]), column.name, other.name, float(row[column.name]))


def run_consent_demo(
    *,
    pki_dir: Path,
    api_url: str,
    platform_config: Path,
    platform_address: str,
    platform_db: Path,
    enterprise_ca: Path,
    work_dir: Path,
    source: str,
    source_db: Path,
    source_schema: Path,
    source_table: Path,
    witness_addresses: Mapping[str, str],
    bank_api_key: str | None = None,
    out: Callable[[str], None] = print,
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

    bank = bank_party(work_dir / "bank", api_url=api_url, platform_config=platform_config, pki_dir=pki_dir,
                      name="demo-bank", api_key=bank_api_key)
    enterprise = enterprise_party(work_dir / "enterprise", api_url=api_url, ca_dir=enterprise_ca,
                                  credit_code=subject.credit_code, name="Demo Enterprise Co., Ltd.")
    as_bank, as_enterprise = ["--profile", str(bank.profile)], ["--profile", str(enterprise.profile)]

    def run(*argv: str) -> object:
        return json.loads(xyd(*argv).stdout)

    signed_up = run("enterprise", "signup", *as_enterprise, "--certificate", str(enterprise.certificate),
                    "--certificate-key", str(enterprise.certificate_key), "--signatory", "Li Lei")
    out(f"      enterprise {subject.credit_code} signs up with its certificate (xyd enterprise signup); key "
        f"{signed_up['key_id']} was made on its side, the platform holds its public half only")
    run("bank", "register-keys", *as_bank)
    items = [f"{source}:{subject.field}", f"{source}:{subject.other_field}"]
    asked = run("bank", "request-consent", *as_bank, "--credit-code", subject.credit_code, "--item", items[0],
                "--item", items[1], "--purpose", "PRE_LOAN_REVIEW", "--loan-ref", "LA-2026-0001", "--max-uses", "20")
    out(f"      {bank.identity} asks for consent {asked['request_id']}: {', '.join(items)}, PRE_LOAN_REVIEW, "
        f"20 uses, {asked['not_before'][:10]} .. {asked['not_after'][:10]} (xyd bank request-consent)")
    pending = run("enterprise", "requests", *as_enterprise, "--status", "PENDING")
    expect([p["request_id"] for p in pending] == [asked["request_id"]] and pending[0]["terms"] is not None,
           f"the enterprise lists {len(pending)} pending request(s), with the exact terms to sign "
           f"({pending[0]['terms']['id'][:17]}…)")
    approved = run("enterprise", "approve", asked["request_id"], "--yes", *as_enterprise)
    consent = approved["authorisation_id"]
    expect(approved["consent_status"] == "ACTIVE",
           "the enterprise approves: it signs the terms with its key, the platform verifies -> consent ACTIVE")

    def verify(threshold: int) -> tuple[bool | None, str | None, list[int]]:
        done = xyd("bank", "verify", asked["request_id"], *as_bank,
                   "--check", f"{source}:{subject.field} >= {threshold}", check=False)
        [line] = json.loads(done.stdout)
        return line.get("result"), line.get("refused"), line["leaves"]

    leaves: list[int] = []
    for threshold, wanted in ((low, True), (high, False)):
        result, refused, indexes = verify(threshold)
        leaves += indexes
        expect(result is wanted and refused is None,
               f"bank: '{subject.field} >= {threshold}' -> {str(result).lower()} (signed by {source}, sealed to the "
               f"bank, opened by xyd bank verify; leaf {indexes[0] if indexes else '-'})")
    for action, wanted in (("pause", "PAUSED"), ("resume", None), ("revoke", "REVOKED")):
        run("enterprise", action, consent, *as_enterprise)
        result, refused, indexes = verify(low)
        expect(refused == wanted and (wanted is not None or result is True),
               f"enterprise {action}s (a signed instruction); the same check -> "
               + (f"refused {refused}" if refused else f"{str(result).lower()}"))
    uses = run("enterprise", "uses", consent, *as_enterprise)["items"]
    expect(len(uses) == 5, f"the enterprise lists {len(uses)} uses of its consent: "
                           + ", ".join(u["reason_code"] or u["kind"] for u in uses))

    declared = run("enterprise", "declare", *as_enterprise, "--financing-need-cny", "5000000", "--revenue-band",
                   "10M_50M", "--employees", "85", "--main-product", "cotton fabric", "--public", "--commit")
    today = utc_now().date()
    xyd("institution", "agreement", "--config", str(platform_config), bank.identity, "--scope", "PUBLIC_REPORTS",
        "--reference", "DSA-DEMO-REPORTS", "--not-before", f"{today.year - 1}-01-01T00:00:00Z",
        "--not-after", f"{today.year + 1}-12-31T00:00:00Z")
    report = run("bank", "report", subject.credit_code, *as_bank)
    flagged = report["self_declared"] or {}
    expect(flagged.get("self_declared") is True and flagged.get("version") == declared["version"]
           and all(item.get("source_unit") for section in report["sections"] for item in section["items"]),
           f"the enterprise declares its financing need, revenue band, headcount and products under a signed credit "
           f"commitment (xyd enterprise declare); the bank's report (xyd bank report) shows them apart from the "
           f"source units' data, flagged self-declared, signed by {flagged.get('commitment', {}).get('signatory')}")

    with RegistryAdmin(credentials(pki_dir, OPERATOR), platform_address) as admin, \
            BankHttpClient(api_url, bank.api_key, keys=BankKeys.load_or_create(bank.profile.parent / "keys"),
                           tls=credentials(pki_dir, Identity("bank", "demo-bank"))) as bank_http:
        publication = admin.publish_checkpoint()
        trust = bank_http.log_trust()
        expect(publication.size > 0 and not publication.refusals,
               f"checkpoint of the one log ({publication.size} leaves: scores, alerts, consents, verifications, key "
               f"changes, declarations, report reads) cosigned by {len(trust.witnesses)} witness(es)")
        good = sum(bank_http.check_receipt(index, trust).use_id is not None for index in leaves)
        expect(good == len(leaves) == 2, f"bank's inclusion receipts: {good} of {len(leaves)} verify")

    log = AuditLog(open_engine(f"sqlite:///{platform_db}"))
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
           f"platform's log, {len(report.missing)} missing, {len(report.unexpected)} unexpected")

    index = leaves[0]
    original = log.leaf(index).leaf
    forged = original.replace(b'"kind":"verification_answered"', b'"kind":"request_refused","reason_code":"PAUSED"')
    table = log.tables.leaf
    with log.engine.begin() as conn:  # a DBA rewrites a use as a refusal, hash column included
        conn.execute(update(table).where(table.c.idx == index).values(leaf=forged, leaf_hash=leaf_hash(forged)))
    try:
        compliance_check()
        expect(False, "tampered row NOT detected")
    except LogTamperedError as exc:
        expect(True, f"row {index} rewritten in the database -> detected: {exc}")
    finally:
        with log.engine.begin() as conn:
            conn.execute(update(table).where(table.c.idx == index).values(leaf=original, leaf_hash=leaf_hash(original)))
    out(f"      (digest of the forged row: {hashlib.sha256(forged).hexdigest()[:16]}…; original restored)")

    kept = snapshot(platform_db)
    try:  # a DBA deletes the newest rows and checkpoints and rewrites the head: the log agrees with itself
        truncate(log, publication.size - 2)
        compliance_check()
        expect(False, "truncated log NOT detected")
    except LogTruncatedError as exc:
        expect(True, f"newest 2 rows and their checkpoint deleted, head rewritten -> detected: {exc}")
    finally:
        restore(platform_db, kept)
        kept.close()
    out("      (database restored)")
    return ok
