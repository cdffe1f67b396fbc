"""Attacks on the registry's audit log by its operator, against a running federation (issue 16, item 5).

The platform (consent registry) and two source nodes (the log's witnesses) run as separate processes. The
operator holds the registry's SQLite file and its log key; the compliance officer runs `xyd audit
verify-chain` with its own config (log key, witnesses' keys and addresses, its admin certificate) and its
own state file. Each test attacks the live database as the operator would, then restores it (SQLite's
online backup) and the officer's state file, so every test starts from the same history:

    authorisations -> checkpoint A (cosigned by both witnesses) -> more -> checkpoint B (cosigned) -> 4 more leaves

and the officer verified the log once after A (state file copy kept) and once after B.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.compliance import commands as audit_cli
from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    LogTrust,
    open_engine,
    parse_note,
)
from federation.chunking import PUSH_METHOD
from federation.grpc_channel import open_secure_channel
from federation.key_binding import load_or_create_ed25519
from federation.pki import Identity
from federation.proto import verification_pb2, verification_pb2_grpc
from sandbox import audit_attacks as attack
from sandbox.consent_world import OFFICER, PLATFORM, ConsentWorld, demo_terms, enterprise_signs, utc_now

REPO = Path(__file__).resolve().parents[2]
TAX, SOCIAL = "source/tax", "source/social_insurance"
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


@dataclass
class History:
    """The log as it stood before each attack, and what the officer keeps."""

    trust: LogTrust
    first: int   # size of checkpoint A
    second: int  # size of checkpoint B
    size: int    # the stored log (B and 4 leaves newer than any checkpoint)
    config: Path
    state: Path
    state_after_first: bytes
    state_after_second: bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsentWorld]:
    # Checkpoints only when the test publishes them, so the history is the same for every test.
    with ConsentWorld(tmp_path_factory.mktemp("audit-attacks"), sources=("tax", "social_insurance"),
                      enterprises=40, checkpoint_interval_s=3600) as running:
        yield running
    assert all(p.poll() is not None for p in running.processes.values()), "a node process outlived the world"


def authorise(world: ConsentWorld, count: int, start: int) -> None:
    """`count` enterprises sign an authorisation that the portal submits and activates (2 leaves each)."""
    codes = pd.read_csv(world.table("tax"), dtype={"credit_code": str})["credit_code"].tolist()
    with world.admin() as admin:
        for code in codes[start:start + count]:
            key = Ed25519PrivateKey.generate()
            now = utc_now()
            admin.bind_enterprise_key(code, key.public_key(), valid_from=now - timedelta(days=1))
            enterprise_signs(admin, demo_terms(code, grantee="bank/icbc-sz", providers=(TAX,), categories=("tax",),
                                               now=now), key, now=now)


def audit(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    """`xyd audit ...` in this process (the officer's tool; the federation runs in its own processes)."""
    code = audit_cli.main([str(a) for a in argv])
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def history(world: ConsentWorld, tmp_path_factory: pytest.TempPathFactory) -> History:
    folder = tmp_path_factory.mktemp("officer")
    with world.admin() as admin:
        authorise(world, 3, 0)
        first = admin.publish_checkpoint()
        trust = admin.log_trust(now=utc_now())
    assert not first.refusals and {w.name for w in trust.witnesses} == {TAX, SOCIAL} and trust.quorum == 2
    config = world.officer_config(folder / "officer.toml", trust)
    state = folder / "audit-state.json"

    def officer_checks() -> None:
        code = audit_cli.main(["verify-chain", "--config", str(config), "--db", str(world.registry_db)])
        assert code == 0

    officer_checks()
    after_first = state.read_bytes()
    authorise(world, 3, 3)
    with world.admin() as admin:
        second = admin.publish_checkpoint()
    authorise(world, 2, 6)
    officer_checks()
    size = AuditLog(open_engine(f"sqlite:///{world.registry_db}")).tree_size()
    assert first.size < second.size < size == second.size + 4
    return History(trust, first.size, second.size, size, config, state, after_first, state.read_bytes())


@pytest.fixture
def log(world: ConsentWorld, history: History) -> Iterator[AuditLog]:
    """The live registry log, put back as it was (database and the officer's state) after the test."""
    kept = attack.snapshot(world.registry_db)
    engine = open_engine(f"sqlite:///{world.registry_db}")
    try:
        yield AuditLog(engine)
    finally:
        engine.dispose()
        attack.restore(world.registry_db, kept)
        kept.close()
        history.state.write_bytes(history.state_after_second)


def stolen_log_key(world: ConsentWorld, trust: LogTrust) -> Ed25519Signer:
    """The registry's log key, as an operator holding it would use it."""
    return Ed25519Signer(trust.log.name, load_or_create_ed25519(world.state_of(PLATFORM) / "consent" / "keys"
                                                                / "audit-log.pem"))


def invented_uses(count: int, start: int = 0) -> list[AuditEvent]:
    at = utc_now()
    return [AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, occurred_at=at, authorisation_id="auth-invented",
                       use_id=f"use-invented-{start + n}", institution="bank/icbc-sz", source_unit=TAX)
            for n in range(count)]


def latest_cosigned(world: ConsentWorld, trust: LogTrust) -> dict[str, int]:
    return {a.name: Checkpoint.from_body(parse_note(a.note).text).size for a in world.ask_witnesses(trust)}


def test_truncated_log_is_reported_by_the_witnesses(world: ConsentWorld, history: History, log: AuditLog,
                                                     tmp_path: Path) -> None:
    """The attack as found: delete the newest rows and checkpoints, rewrite the head. Checkpoint A, genuinely
    cosigned, is now the newest stored one and the log agrees with itself; before this fix `xyd audit
    verify-chain` said "chain OK". The officer's tool, as its own process, with a state file it never used
    (so only the witnesses can tell), reports the truncation and keeps no state."""
    attack.truncate(log, history.first)
    assert log.tree_size() == history.first and len(log.checkpoints()) == 1
    fresh_state = tmp_path / "fresh-state.json"
    command = [sys.executable, "-m", "cli.main", "audit", "verify-chain", "--config", str(history.config),
               "--db", str(world.registry_db), "--state", str(fresh_state)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED (TRUNCATED): LogTruncatedError" in done.stdout
    assert f"holds a checkpoint of size {history.second}" in done.stdout
    assert f"the stored log has size {history.first}" in done.stdout
    assert not fresh_state.exists()
    # The platform's honest publisher cannot get the truncated log cosigned: both witnesses refuse a rollback.
    with world.admin() as admin, pytest.raises(grpc.RpcError) as refused:
        admin.publish_checkpoint()
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert latest_cosigned(world, history.trust) == {TAX: history.second, SOCIAL: history.second}


def test_truncation_below_a_resigned_head_is_reported(world: ConsentWorld, history: History, log: AuditLog,
                                                      capsys) -> None:
    """Cut between A and B and sign the shorter head with the stolen log key."""
    attack.truncate(log, history.second - 3)
    attack.resign_head(log, stolen_log_key(world, history.trust), now=utc_now())
    code, out = audit(capsys, "verify-chain", "--config", history.config, "--db", world.registry_db)
    assert code == 1 and "FAILED (TRUNCATED)" in out, out
    assert history.state.read_bytes() == history.state_after_second  # a failed run keeps nothing


@pytest.mark.parametrize("extra", [0, 5], ids=["same-size", "longer"])
def test_fork_with_a_resigned_head_is_reported(world: ConsentWorld, history: History, log: AuditLog, extra: int,
                                               capsys) -> None:
    """Another history from A on, re-signed with the log key: at B's size (a second root for a size the
    witnesses cosigned) or longer (no consistency proof from B)."""
    invented = invented_uses(history.second - history.first + extra)
    attack.fork(log, history.first, invented, stolen_log_key(world, history.trust), now=utc_now())
    code, out = audit(capsys, "verify-chain", "--config", history.config, "--db", world.registry_db)
    assert code == 1 and "FAILED (FORKED): LogForkedError: the log was forked: witness" in out, out
    assert f"holds a checkpoint of size {history.second}" in out


def test_rewritten_history_is_a_fork_once_the_database_agrees_with_itself(world: ConsentWorld, history: History,
                                                                           log: AuditLog, capsys) -> None:
    """A use after A rewritten as a refusal. With only the row changed, or with every derived hash rebuilt but
    the log's own checkpoint B still stored, the rows contradict the log (TAMPERED); rebuilt and re-signed
    with B dropped, the log agrees with itself and only the witnesses can tell (FORKED)."""
    index = history.first + 1
    original = log.leaf(index).leaf
    forged = original.replace(b'"kind":"authorisation_status_changed"', b'"kind":"authorisation_status_changed" ')
    assert forged != original
    attack.rewrite_leaf(log, index, forged, rebuild=True)
    code, out = audit(capsys, "verify-chain", "--config", history.config, "--db", world.registry_db)
    assert code == 1 and "FAILED (TAMPERED): LogTamperedError" in out, out
    attack.resign_head(log, stolen_log_key(world, history.trust), now=utc_now(), unchanged_below=history.first)
    code, out = audit(capsys, "verify-chain", "--config", history.config, "--db", world.registry_db)
    assert code == 1 and "FAILED (FORKED)" in out, out


@pytest.mark.parametrize("change", ["rewrite", "swap", "delete", "head-only"])
def test_edited_rows_are_reported_as_tampering(world: ConsentWorld, history: History, log: AuditLog, change: str,
                                               capsys) -> None:
    """A row rewritten (hash column too), two rows swapped, a middle row deleted, or only the head cut back
    to A with every row and checkpoint left in place."""
    if change == "rewrite":
        leaf = log.leaf(2).leaf
        attack.rewrite_leaf(log, 2, leaf.replace(b"bank/icbc-sz", b"bank/cmb-sz"))
    elif change == "swap":
        attack.swap_leaves(log, 1, history.second + 1)
    elif change == "delete":
        attack.delete_leaf(log, history.first)
    else:
        attack.rewrite_head(log, history.first)
    code, out = audit(capsys, "verify-chain", "--config", history.config, "--db", world.registry_db)
    assert code == 1 and "FAILED (TAMPERED): LogTamperedError" in out, out


def test_rollback_is_reported_against_the_officers_own_copy(world: ConsentWorld, history: History, log: AuditLog,
                                                            capsys) -> None:
    """Without the witnesses (--offline) the officer's last verified checkpoint (B) still shows the log went
    back to A. An attacker who also rolls the state file back to A passes offline, not with the witnesses;
    one who edits the state file is refused by the log key."""
    attack.truncate(log, history.first)
    argv = ["verify-chain", "--config", history.config, "--db", world.registry_db]
    code, out = audit(capsys, *argv, "--offline")
    assert code == 1 and "FAILED (ROLLED BACK): LogRolledBackError" in out, out
    assert f"the officer's last verified checkpoint holds a checkpoint of size {history.second}" in out

    history.state.write_bytes(history.state_after_first)
    code, out = audit(capsys, *argv, "--offline")
    assert code == 0 and "chain OK (offline: witnesses not asked)" in out and "WARNING" in out
    code, out = audit(capsys, *argv)
    assert code == 1 and "FAILED (TRUNCATED)" in out, out

    forged = history.state_after_second.replace(b"\\n" + str(history.second).encode() + b"\\n",
                                                b"\\n" + str(history.first).encode() + b"\\n")
    assert forged != history.state_after_second
    history.state.write_bytes(forged)
    code, out = audit(capsys, *argv, "--offline")
    assert code == 1 and "SignatureError" in out, out


def test_an_old_witness_answer_does_not_count(world: ConsentWorld, history: History, log: AuditLog,
                                              capsys) -> None:
    """Each witness cosigns its answer when asked: judged an hour later with a 5-minute limit, the same
    answers are stale (as a replayed one would be) and the quorum is not met."""
    argv = ["verify-chain", "--config", history.config, "--db", world.registry_db, "--max-witness-age-s", "300"]
    code, out = audit(capsys, *argv)
    assert code == 0 and "chain OK" in out
    later = (utc_now() + timedelta(hours=1)).isoformat()
    code, out = audit(capsys, *argv, "--now", later)
    assert code == 1 and "FAILED (WITNESSES UNAVAILABLE)" in out and "older than" in out, out


def test_an_unreachable_witness_counts_against_the_quorum_and_a_wrong_key_fails(
        world: ConsentWorld, history: History, log: AuditLog, tmp_path: Path, capsys) -> None:
    dead = world.officer_config(tmp_path / "dead.toml", history.trust, state=history.state,
                                addresses={SOCIAL: "127.0.0.1:9"})
    code, out = audit(capsys, "verify-chain", "--config", dead, "--db", world.registry_db)
    assert code == 1 and "FAILED (WITNESSES UNAVAILABLE)" in out and SOCIAL in out, out
    one = world.officer_config(tmp_path / "one.toml", history.trust, state=history.state,
                               addresses={SOCIAL: "127.0.0.1:9"}, quorum=1)
    code, out = audit(capsys, "verify-chain", "--config", one, "--db", world.registry_db)
    assert code == 0 and f"witness {SOCIAL} did not answer" in out and "chain OK" in out
    # The officer configured a key for source/tax that the node does not hold: its answer cannot count.
    wrong = LogTrust(history.trust.log, (CosignatureSigner.generate(TAX).verifier(), history.trust.witness(SOCIAL)), 2)
    config = world.officer_config(tmp_path / "wrong.toml", wrong, state=history.state)
    code, out = audit(capsys, "verify-chain", "--config", config, "--db", world.registry_db)
    assert code == 1 and f"SignatureError: the answer of witness {TAX} is not cosigned with its configured key" in out, out


def test_the_officers_certificate_reaches_the_witness_answer_and_nothing_else(world: ConsentWorld,
                                                                               history: History) -> None:
    address = world.witness_addresses()[TAX]
    channel = open_secure_channel(address, world.tls(OFFICER), Identity.parse(TAX))
    try:
        witness = verification_pb2_grpc.WitnessStub(channel)
        reply = witness.LatestCosigned(verification_pb2.LatestCosignedRequest(origin=history.trust.log.name),
                                       timeout=5)
        assert Checkpoint.from_body(parse_note(reply.note).text).size == history.second
        refused = [
            lambda: witness.KnownSize(verification_pb2.KnownSizeRequest(origin=history.trust.log.name), timeout=5),
            lambda: witness.AddCheckpoint(verification_pb2.AddCheckpointRequest(note=reply.note), timeout=5),
            lambda: verification_pb2_grpc.VerificationStub(channel).Keys(verification_pb2.KeysRequest(), timeout=5),
            lambda: channel.stream_unary(PUSH_METHOD)(iter([b""]), timeout=5),
        ]
        for call in refused:
            with pytest.raises(grpc.RpcError) as denied:
                call()
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, denied.value.details()
    finally:
        channel.close()


def test_the_log_key_and_the_witnesses_are_required(world: ConsentWorld, history: History, log: AuditLog,
                                                    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XYD_AUDIT_CONFIG", raising=False)
    state = ["--state", str(tmp_path / "state.json")]
    code, out = audit(capsys, "verify-chain", "--db", world.registry_db, *state)
    assert code == 2 and "the log's verification key is required" in out
    code, out = audit(capsys, "verify-chain", "--db", world.registry_db, "--log-vkey", history.trust.log.vkey(), *state)
    assert code == 2 and "no witness to ask" in out
    code, out = audit(capsys, "verify-chain", "--db", world.registry_db, "--log-vkey", history.trust.log.vkey(), *state,
                      "--offline")
    assert code == 0 and "chain OK (offline" in out
    monkeypatch.setenv("XYD_AUDIT_CONFIG", str(history.config))
    code, out = audit(capsys, "verify-chain", "--db", world.registry_db)
    assert code == 0 and "witness source/tax: size" in out


def test_the_officer_fetches_the_keys_the_certificates_vouch_for(world: ConsentWorld, history: History,
                                                                 capsys) -> None:
    code, out = audit(capsys, "keys", "--platform", world.platform_address, "--config", history.config)
    assert code == 0 and f'vkey = "{history.trust.log.vkey()}"' in out
    assert all(f'vkey = "{w.vkey()}"' in out for w in history.trust.witnesses)
