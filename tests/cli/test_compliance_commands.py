"""`xyd audit ...` on a real registry database (SQLite file), a source node's own log, and a uses table."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update

from cli.compliance import commands as audit_cli
from cli.compliance.officer import OfficerConfig, OfficerConfigError
from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    InclusionReceipt,
    LocalUseLog,
    Witness,
    open_engine,
    parse_note,
)
from consent.authorisation import (
    AuthorisationStore,
    EnterpriseKeyRegistry,
    Mode,
    Status,
    TransitionReason,
    sign_terms,
)
from consent.merkle import leaf_hash
from platform_node.uses.schema import use_metadata, uses
from sandbox import audit_attacks as attack
from sandbox.consent_world import demo_terms

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE_A, CODE_B = "91330105MARQ283F4K", "91330102MABT5PRM01"
ICBC, CMB, TAX, SOCIAL = "bank/icbc-sz", "bank/cmb-sz", "source/tax", "source/social"


@dataclass
class Registry:
    db: Path
    source_db: Path
    log: AuditLog
    local: LocalUseLog
    store: AuthorisationStore
    signer: Ed25519Signer
    witness: Witness
    ids: dict[str, str]

    def trust_args(self) -> list[str]:
        return ["--log-vkey", self.signer.verifier().vkey(), "--witness-vkey", self.witness.verifier().vkey()]

    def chain_args(self, *extra: str) -> list[str]:
        """`verify-chain` without a witness to ask (in-process here; asked over gRPC in the integration
        tests), keeping the officer's state next to the database."""
        return ["verify-chain", "--db", str(self.db), *self.trust_args(), "--offline",
                "--state", str(self.db.parent / "audit-state.json"), *extra]

    def use(self, authorisation_id: str, n: int, *, institution: str = ICBC, source: str = TAX,
            relayed: bool = True, at: datetime | None = None) -> None:
        event = AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, occurred_at=at or T0 + timedelta(hours=n),
                           authorisation_id=authorisation_id, use_id=f"req-{n:04d}", institution=institution,
                           source_unit=source)
        if source == TAX:
            with self.local.log.engine.begin() as conn:
                self.local.record(conn, event)
        if relayed:
            with self.log.engine.begin() as conn:
                self.log.append(conn, event)

    def publish(self, at: datetime) -> None:
        CheckpointPublisher(self.log, self.signer, [self.witness], quorum=1).publish(now=at)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    db, source_db = tmp_path / "registry.db", tmp_path / "source-tax.db"
    engine = open_engine(f"sqlite:///{db}")
    log = AuditLog(engine)
    log.create_schema()
    keys = EnterpriseKeyRegistry(engine)
    keys.create_schema()
    store = AuthorisationStore(engine, keys=keys, audit=log)
    store.create_schema()
    local = LocalUseLog(open_engine(f"sqlite:///{source_db}"))
    local.create_schema()
    signer = Ed25519Signer.generate("xyd/platform/main/audit-log")
    witness = Witness(CosignatureSigner.generate(TAX), [signer.verifier()])
    ids = {}
    for label, code, grantee, providers, registered in (
        ("a-icbc", CODE_A, ICBC, (TAX,), T0 - timedelta(days=3)),
        ("a-cmb", CODE_A, CMB, (TAX, SOCIAL), T0 - timedelta(days=1)),
        ("b-icbc", CODE_B, ICBC, (SOCIAL,), T0),
    ):
        key = Ed25519PrivateKey.generate()
        keys.bind(code, key.public_key(), valid_from=registered - timedelta(days=30))
        terms = demo_terms(code, grantee=grantee, providers=providers, categories=("tax",), now=registered,
                           mode=Mode.VERIFY)
        artefact = sign_terms(terms, key, signed_at=registered - timedelta(minutes=1))
        store.register(artefact, actor="admin/portal", now=registered)
        store.transition(terms.id, Status.ACTIVE, actor="admin/portal", reason=TransitionReason.IDENTITY_CONFIRMED,
                         now=registered)
        ids[label] = terms.id
    world = Registry(db, source_db, log, local, store, signer, witness, ids)
    world.use(ids["a-icbc"], 1)
    world.use(ids["a-cmb"], 2, institution=CMB)
    world.use(ids["b-icbc"], 3, source=SOCIAL)
    world.publish(T0 + timedelta(hours=4))
    world.use(ids["a-icbc"], 5)
    world.publish(T0 + timedelta(hours=6))
    return world


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = audit_cli.main(list(argv))
    return code, capsys.readouterr().out


def test_authorisations_by_enterprise_institution_source_status_and_period(registry: Registry, capsys) -> None:
    db = str(registry.db)
    code, out = run(capsys, "authorisations", "--db", db, "--enterprise", CODE_A, "--format", "json")
    assert code == 0 and {r["authorisation_id"] for r in json.loads(out)} == {registry.ids["a-icbc"], registry.ids["a-cmb"]}
    _, out = run(capsys, "authorisations", "--db", db, "--institution", ICBC, "--format", "json")
    assert {r["authorisation_id"] for r in json.loads(out)} == {registry.ids["a-icbc"], registry.ids["b-icbc"]}
    _, out = run(capsys, "authorisations", "--db", db, "--source", SOCIAL, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["authorisation_id"] for r in rows} == {registry.ids["a-cmb"], registry.ids["b-icbc"]}
    since = (T0 - timedelta(days=2)).isoformat()
    _, out = run(capsys, "authorisations", "--db", db, "--since", since, "--until", T0.isoformat(), "--format", "json")
    assert [r["authorisation_id"] for r in json.loads(out)] == [registry.ids["a-cmb"]]
    registry.store.transition(registry.ids["a-cmb"], Status.REVOKED, actor=f"enterprise/{CODE_A}",
                              reason=TransitionReason.ENTERPRISE_REVOKED, now=T0)
    _, out = run(capsys, "authorisations", "--db", db, "--status", "REVOKED")
    assert registry.ids["a-cmb"] in out and registry.ids["a-icbc"] not in out


def test_uses_by_filter_and_logged_export(registry: Registry, capsys, tmp_path: Path) -> None:
    db = str(registry.db)
    _, out = run(capsys, "uses", "--db", db, "--enterprise", CODE_A, "--format", "json")
    assert sorted(r["use_id"] for r in json.loads(out)) == ["req-0001", "req-0002", "req-0005"]
    _, out = run(capsys, "uses", "--db", db, "--institution", ICBC, "--source", TAX, "--format", "json")
    assert sorted(r["use_id"] for r in json.loads(out)) == ["req-0001", "req-0005"]
    _, out = run(capsys, "uses", "--db", db, "--since", (T0 + timedelta(hours=2)).isoformat(),
                 "--until", (T0 + timedelta(hours=4)).isoformat(), "--format", "json")
    assert sorted(r["use_id"] for r in json.loads(out)) == ["req-0002", "req-0003"]
    report = tmp_path / "uses.csv"
    before = registry.log.tree_size()
    code, out = run(capsys, "uses", "--db", db, "--institution", CMB, "--format", "csv", "--out", str(report),
                    "--actor", "admin/compliance")
    assert code == 0 and "export logged" in out
    assert [r["use_id"] for r in csv.DictReader(report.open())] == ["req-0002"]
    exported = registry.log.leaf(before).event
    assert exported.kind is EventKind.AUDIT_EXPORT and exported.actor == "admin/compliance"
    assert exported.digest_map["report"] == hashlib.sha256(report.read_bytes()).hexdigest()


def test_verify_chain_passes_then_detects_an_edited_row(registry: Registry, capsys) -> None:
    db = str(registry.db)
    code, out = run(capsys, *registry.chain_args())
    assert code == 0 and "chain OK (offline: witnesses not asked)" in out and "cosigned by source/tax" in out
    assert f"{registry.log.tree_size()} recomputed" in out
    other = Ed25519Signer.generate("xyd/platform/main/audit-log")
    code, out = run(capsys, "verify-chain", "--db", db, "--log-vkey", other.verifier().vkey(), "--offline",
                    "--state", str(registry.db.parent / "other-state.json"))
    assert code == 1 and "FAILED" in out
    table = registry.log.tables.leaf
    leaf = registry.log.leaf(registry.log.tree_size() - 4).leaf  # a use under both checkpoints
    forged = leaf.replace(b"bank/icbc-sz", b"bank/cmb-sz")
    with registry.log.engine.begin() as conn:
        conn.execute(update(table).where(table.c.leaf == leaf).values(leaf=forged, leaf_hash=leaf_hash(forged)))
    code, out = run(capsys, *registry.chain_args())
    assert code == 1 and "FAILED (TAMPERED): LogTamperedError" in out


def test_the_officers_state_is_kept_after_success_only_and_catches_a_rollback(registry: Registry, capsys) -> None:
    state = registry.db.parent / "audit-state.json"
    code, out = run(capsys, *registry.chain_args())
    assert code == 0 and "no last verified checkpoint kept yet" in out
    kept = json.loads(state.read_text())["xyd/platform/main/audit-log"]
    assert kept["size"] == max(Checkpoint.from_body(parse_note(n).text).size for n in registry.log.checkpoints())
    attack.truncate(registry.log, kept["size"] - 1)
    code, out = run(capsys, *registry.chain_args())
    assert code == 1 and "FAILED (ROLLED BACK): LogRolledBackError" in out
    assert json.loads(state.read_text())["xyd/platform/main/audit-log"] == kept


def test_a_banks_receipt_shows_a_truncation(registry: Registry, capsys, tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    newest = registry.log.tree_size() - 1
    assert run(capsys, "receipt", "--db", str(registry.db), "--index", str(newest), "--out", str(path))[0] == 0
    first = min(Checkpoint.from_body(parse_note(n).text).size for n in registry.log.checkpoints())
    attack.truncate(registry.log, first)
    code, out = run(capsys, *registry.chain_args("--receipt", str(path)))
    assert code == 1 and f"FAILED (TRUNCATED): LogTruncatedError: the log was truncated: receipt {path}" in out


def test_the_log_key_is_required(registry: Registry, capsys, monkeypatch: pytest.MonkeyPatch,
                                 tmp_path: Path) -> None:
    monkeypatch.delenv("XYD_AUDIT_CONFIG", raising=False)
    for command in (["verify-chain", "--db", str(registry.db), "--offline", "--state", str(tmp_path / "s.json")],
                    ["cross-check", "--db", str(registry.db), "--source-db", str(registry.source_db),
                     "--source", TAX], ["verify-receipt", str(tmp_path / "none.json")]):
        code, out = run(capsys, *command)
        assert code == 2 and "the log's verification key is required" in out, command
    assert not (tmp_path / "s.json").exists()
    bad = tmp_path / "officer.toml"
    bad.write_text('[log]\nvkey = "not-a-key"\n')
    code, out = run(capsys, "verify-chain", "--db", str(registry.db), "--config", str(bad), "--offline")
    assert code == 2 and "bad verifier key" in out


def test_receipt_issued_and_verified_and_a_shifted_one_refused(registry: Registry, capsys, tmp_path: Path) -> None:
    index = registry.log.find(kinds=[EventKind.VERIFICATION_ANSWERED], use_id="req-0001")[0].index
    path = tmp_path / "receipt.json"
    code, _ = run(capsys, "receipt", "--db", str(registry.db), "--index", str(index), "--out", str(path))
    assert code == 0
    code, out = run(capsys, "verify-receipt", str(path), *registry.trust_args())
    assert code == 0 and "receipt OK" in out and "req-0001" in out
    receipt = InclusionReceipt.from_json(path.read_bytes())
    shifted = tmp_path / "shifted.json"
    shifted.write_bytes(InclusionReceipt(receipt.leaf, receipt.index + 1, receipt.proof, receipt.checkpoint).to_json())
    code, out = run(capsys, "verify-receipt", str(shifted), *registry.trust_args())
    assert code == 1 and "FAILED" in out


def test_cross_check_clean_then_finds_a_dropped_use(registry: Registry, capsys) -> None:
    args = ["cross-check", "--db", str(registry.db), "--source-db", str(registry.source_db), "--source", TAX,
            *registry.trust_args()]
    code, out = run(capsys, *args)
    assert code == 0 and "cross-check clean" in out and "missing 0" in out
    registry.use(registry.ids["a-icbc"], 9, relayed=False)  # the platform never appended this one
    code, out = run(capsys, *args)
    assert code == 1 and "missing from the registry: verification_answered req-0009" in out


def test_overdue_without_and_with_a_uses_table(registry: Registry, capsys) -> None:
    code, out = run(capsys, "overdue", "--db", str(registry.db))
    assert code == 0 and "no uses table" in out
    use_metadata.create_all(registry.log.engine)
    base = {"kind": "SCORE", "credit_code": CODE_A, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1",
            "reason_codes": "", "degraded": False, "missing_sources": "", "result_nonce": b"\0" * 16,
            "created_at": int(T0.timestamp()), "audit_index": 0, "decision": None}
    with registry.log.engine.begin() as conn:
        conn.execute(insert(uses), [
            {**base, "id": "u-late", "institution_id": ICBC, "feedback_due_at": int((T0 + timedelta(days=30)).timestamp())},
            {**base, "id": "u-done", "institution_id": CMB, "feedback_due_at": int((T0 + timedelta(days=1)).timestamp()),
             "decision": "GRANTED"},
            {**base, "id": "u-open", "institution_id": CMB, "feedback_due_at": int((T0 + timedelta(days=90)).timestamp())},
        ])
    code, out = run(capsys, "overdue", "--db", str(registry.db), "--now", (T0 + timedelta(days=40)).isoformat(),
                    "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["use_id"] for r in rows] == ["u-late"] and rows[0]["days_overdue"] == 10


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit, match="no database"):
        audit_cli.main(["uses", "--db", str(tmp_path / "nope.db")])
    assert not (tmp_path / "nope.db").exists()


def test_a_rewritten_row_between_two_checkpoints_is_reported_as_tampering(registry: Registry, capsys) -> None:
    """The newest checkpoint's last leaf lies in the part that the consistency proof from the checkpoint
    before it is built from: the stored rows are checked first, so the report names the rewritten row
    rather than a failed consistency proof (which one used to come first depended on the checkpoints)."""
    sizes = sorted(Checkpoint.from_body(parse_note(note).text).size for note in registry.log.checkpoints())
    assert len(sizes) >= 2 and sizes[-2] < sizes[-1]
    table = registry.log.tables.leaf
    leaf = registry.log.leaf(sizes[-1] - 1).leaf
    forged = leaf + b" "
    with registry.log.engine.begin() as conn:
        conn.execute(update(table).where(table.c.leaf == leaf).values(leaf=forged, leaf_hash=leaf_hash(forged)))
    code, out = run(capsys, *registry.chain_args())
    assert code == 1 and "LogTamperedError" in out


def test_the_officers_config_refuses_what_would_weaken_a_check(registry: Registry, tmp_path: Path) -> None:
    log_key, witness_key = registry.signer.verifier().vkey(), registry.witness.verifier().vkey()
    good = f'[log]\nvkey = "{log_key}"\n\n[[witness]]\nvkey = "{witness_key}"\naddress = "tax.example:7000"\n'
    path = tmp_path / "officer.toml"
    path.write_text(good)
    config = OfficerConfig.load(path)
    assert config.log is not None and config.log.vkey() == log_key and config.state == tmp_path / "audit-state.json"
    assert [(w.name, w.address) for w in config.witnesses] == [(TAX, "tax.example:7000")] and config.tls is None
    for bad, reason in (
        (good + f'\n[[witness]]\nvkey = "{witness_key}"\naddress = "other:1"\n', "listed twice"),
        (good + "\n[witnesses]\n", "unknown sections"),
        (good.replace("[log]\n", "[log]\nquorum = -1\n"), "quorum"),
        (good.replace("[log]\n", "[log]\nmax_age = 5\n"), "unknown \\[log\\] keys"),
        (good.replace('address = "tax.example:7000"\n', ""), "needs vkey and address"),
    ):
        path.write_text(bad)
        with pytest.raises(OfficerConfigError, match=reason):
            OfficerConfig.load(path)
