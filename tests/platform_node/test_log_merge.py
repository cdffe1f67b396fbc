"""Merging an existing platform's two logs into one (`xyd platform merge-logs`): a registry log cosigned by a
witness and an API log with its own key, each with receipts handed out, become one log whose every earlier
proof still checks, whose copies of the API's leaves are committed to by a `log_merged` leaf, and which the
witness goes on cosigning. Tampering with the archive or the merge leaf is caught; a second merge is refused;
the platform refuses to start on two logs and starts after the merge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, update

from cli.compliance.commands import check_merges
from consent.audit import (
    AuditError,
    AuditLog,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    LogTamperedError,
    LogTrust,
    Witness,
    WitnessAnswer,
    issue_receipt,
    open_engine,
    verify_history,
    verify_receipt,
)
from consent.audit.merge import verify_merges
from consent.authorisation import Status, TransitionReason, sign_terms
from federation.config import ConfigError, load_node_config
from federation.pki import Identity
from platform_node.api.app import create_app
from platform_node.api.embedded import platform_database_url
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.consent_registry import ConsentRegistry, RegistryKeyring
from platform_node.log_merge import ARCHIVE_PREFIX, MergeRefused, merge_databases, merge_logs
from platform_node.uses.schema import uses
from sandbox.consent_world import demo_terms
from tests.platform_node.world import BANK_A, T0, build_platform, enterprises


def _old_registry(path: Path, keys: Path) -> ConsentRegistry:
    """A registry of an earlier version: its own database and log, with an enterprise's consent in it."""
    registry = ConsentRegistry(open_engine(f"sqlite:///{path}"),
                               RegistryKeyring.load_or_create(keys, Identity("platform", "main")))
    registry.create_schema()
    code = enterprises(9)[8]
    key = Ed25519PrivateKey.generate()
    registry.enterprise_keys.bind(code, key.public_key(), valid_from=T0 - timedelta(days=1))
    terms = demo_terms(code, grantee=BANK_A, providers=("source/tax",), categories=("tax",), now=T0)
    registry.store.register(sign_terms(terms, key, signed_at=T0), actor="admin/portal", now=T0)
    registry.store.transition(terms.id, Status.ACTIVE, actor="admin/portal", reason=TransitionReason.IDENTITY_CONFIRMED,
                              now=T0)
    return registry


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_two_logs_become_one_and_every_earlier_proof_still_checks(tmp_path: Path, target: str,
                                                                  request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if target == "postgresql" else f"sqlite:///{tmp_path / 'api.db'}"
    registry = _old_registry(tmp_path / "registry.db", tmp_path / "keys")
    witness = Witness(CosignatureSigner.generate("source/tax"), [registry.keyring.log_signer.verifier()])
    witnessed = CheckpointPublisher(registry.log, registry.keyring.log_signer, [witness], quorum=1)
    registry_note = witnessed.publish(now=T0).note
    registry_receipt = issue_receipt(registry.log, 1, registry_note)
    registry_size = registry.log.tree_size()

    # The old API: its own database, log and key; a bank scored, and holds the receipt of its use.
    api_signer = Ed25519Signer.generate("xyd.platform/audit")
    platform = build_platform(tmp_path, settings=ApiSettings(database_url=url))
    platform.services.publisher = CheckpointPublisher(platform.services.audit, api_signer)
    with ApiServer(create_app(platform.services)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        scored = http.post("/v1/scores", headers=platform.headers(BANK_A), json={
            "credit_code": platform.codes[1], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"}).json()
    api_log = platform.services.audit
    api_note = platform.services.publisher.publish(now=T0).note
    old_index = scored["audit"]["leaf_index"]
    api_receipt = issue_receipt(api_log, old_index, api_note)
    api_size = api_log.tree_size()
    platform.services.close()

    merged = merge_databases(registry.engine, open_engine(url), now=T0)
    assert (merged.registry_leaves, merged.api_leaves) == (registry_size, api_size)
    assert merged.merged.first_index == registry_size and merged.merged.merge_leaf == registry_size + api_size

    one = AuditLog(open_engine(url))
    trust = LogTrust(registry.keyring.log_signer.verifier(), (witness.verifier(),), 1)
    answer = WitnessAnswer(witness.name, witness.latest_cosigned(registry.keyring.origin, now=T0))
    # The witnessed history goes on: its checkpoint and the witness's are prefixes of the one log.
    verify_history(one, trust, witness_answers=[answer])
    # Receipts handed out before the merge still verify, each against its own log's checkpoint.
    event, _ = verify_receipt(registry_receipt, trust.log, witnesses=trust.witnesses, quorum=1)
    assert one.leaf(1).leaf == registry_receipt.leaf
    event, _ = verify_receipt(api_receipt, api_signer.verifier())
    archive = AuditLog(one.engine, prefix=ARCHIVE_PREFIX)
    assert archive.leaf(old_index).leaf == api_receipt.leaf == one.leaf(registry_size + old_index).leaf
    assert archive.latest_checkpoint() == api_note
    [checked] = verify_merges(one)
    assert checked.size == api_size
    # The officer's tool checks the same, and with the API's former key, the archive's own checkpoints too.
    assert [m.size for m in check_merges(one, [api_signer.verifier().vkey()])] == [api_size]
    with pytest.raises(AuditError):
        check_merges(one, [Ed25519Signer.generate("xyd.platform/audit").verifier().vkey()])
    # The use now points at its leaf in the one log, which the witness cosigns from here on.
    with one.engine.connect() as conn:
        assert conn.execute(uses.select()).first().audit_index == registry_size + old_index
    publication = CheckpointPublisher(one, registry.keyring.log_signer, [witness], quorum=1).publish(
        now=T0 + timedelta(minutes=1))
    assert publication.checkpoint.size == one.tree_size() and not publication.refusals
    verify_receipt(issue_receipt(one, registry_size + old_index, publication.note), trust.log,
                   witnesses=trust.witnesses, quorum=1)

    with pytest.raises(MergeRefused):
        merge_databases(registry.engine, one.engine, now=T0)
    for tamper in (lambda c: c.execute(delete(archive.tables.leaf).where(archive.tables.leaf.c.idx == 0)),
                   lambda c: c.execute(update(one.tables.leaf).where(one.tables.leaf.c.idx == checked.merge_leaf)
                                       .values(leaf=one.leaf(0).leaf, leaf_hash=one.leaf(0).leaf_hash))):
        with one.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            saved = conn.exec_driver_sql("SELECT idx, leaf, leaf_hash FROM archive_api_audit_leaf WHERE idx = 0").first()
            merge_row = one.leaf(checked.merge_leaf)
        with one.engine.begin() as conn:
            tamper(conn)
        with pytest.raises(LogTamperedError):
            verify_merges(one)
        with one.engine.begin() as conn:  # put things back for the next tampering
            conn.execute(delete(archive.tables.leaf).where(archive.tables.leaf.c.idx == 0))
            conn.execute(archive.tables.leaf.insert().values(idx=0, leaf=saved.leaf, leaf_hash=saved.leaf_hash,
                                                            kind="score_served", occurred_at_ms=0))
            conn.execute(update(one.tables.leaf).where(one.tables.leaf.c.idx == checked.merge_leaf)
                         .values(leaf=merge_row.leaf, leaf_hash=merge_row.leaf_hash))
        verify_merges(one)


def test_the_platform_refuses_two_logs_and_starts_after_the_merge(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _old_registry(state / "consent" / "registry.db", state / "consent" / "keys").engine.dispose()
    config_path = tmp_path / "platform.toml"
    config_path.write_text("\n".join([
        "[node]", 'listen = "127.0.0.1:0"', f'state_dir = "{state}"', "",
        "[tls]", 'ca = "ca.pem"', 'cert = "cert.pem"', 'key = "key.pem"', "",
        "[api]", f'database_url = "sqlite:///{tmp_path / "api.db"}"', f'secrets_file = "{tmp_path / "master.key"}"',
        ""]), encoding="utf-8")
    config = load_node_config(config_path)
    with pytest.raises(ConfigError, match="merge-logs"):
        platform_database_url(config)
    platform = build_platform(tmp_path, settings=ApiSettings(database_url=f"sqlite:///{tmp_path / 'api.db'}"))
    platform.services.close()
    report = merge_logs(config, now=T0)
    assert report.archived_registry_db == state / "consent" / "registry.db.merged"
    assert report.archived_registry_db.exists() and not (state / "consent" / "registry.db").exists()
    assert platform_database_url(config) == f"sqlite:///{tmp_path / 'api.db'}"
