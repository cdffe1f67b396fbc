"""Witnesses (source nodes) cosign only an append-only history; publishing and inclusion receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    InclusionReceipt,
    InconsistentCheckpointError,
    JsonFileWitnessStore,
    NoteError,
    QuorumError,
    RollbackError,
    SignatureError,
    SplitViewError,
    UnknownLogError,
    Witness,
    WitnessConflict,
    add_cosignatures,
    issue_receipt,
    open_engine,
    parse_note,
    sign_checkpoint,
    verify_checkpoint,
    verify_receipt,
)
from consent.merkle import ProofError

ORIGIN = "xyd.test/registry-audit"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def use_event(n: int) -> AuditEvent:
    return AuditEvent(
        kind=EventKind.VERIFICATION_ANSWERED, occurred_at=NOW + timedelta(seconds=n),
        authorisation_id="auth-1", use_id=f"use-{n}", institution="bank/icbc-sz", source_unit="source/tax",
    )


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(open_engine(f"sqlite:///{tmp_path / 'audit.db'}"))
    audit.create_schema()
    return audit


def grow(log: AuditLog, count: int) -> None:
    start = log.tree_size()
    with log.engine.begin() as conn:
        log.append_many(conn, [use_event(n) for n in range(start, start + count)])


def checkpoint_note(log: AuditLog, signer: Ed25519Signer) -> tuple[str, Checkpoint]:
    head = log.tree_head()
    checkpoint = Checkpoint(signer.name, head.size, head.root)
    return sign_checkpoint(checkpoint, signer), checkpoint


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate(ORIGIN)


def make_witness(signer: Ed25519Signer, name: str = "source/tax", store: object = None) -> Witness:
    return Witness(CosignatureSigner.generate(name), [signer.verifier()], store)  # type: ignore[arg-type]


def test_witness_follows_an_append_only_log(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 5)
    note, first = checkpoint_note(log, signer)
    cosignature = witness.add_checkpoint(note, old_size=0, proof=[], now=NOW)
    cosigned = add_cosignatures(note, [cosignature])
    verified = verify_checkpoint(cosigned, signer.verifier(), witnesses=[witness.verifier()], quorum=1)
    assert verified.checkpoint == first and witness.known_size(ORIGIN) == 5
    grow(log, 12)
    note, second = checkpoint_note(log, signer)
    witness.add_checkpoint(note, old_size=5, proof=log.consistency_proof(5, 17), now=NOW)
    assert witness.known_size(ORIGIN) == 17
    witness.add_checkpoint(note, old_size=17, proof=[], now=NOW)  # the same head again: cosigned again


def test_same_size_with_another_root_is_refused_as_a_split_view(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 8)
    note, checkpoint = checkpoint_note(log, signer)
    witness.add_checkpoint(note, old_size=0, proof=[], now=NOW)
    other_history = sign_checkpoint(Checkpoint(ORIGIN, 8, bytes(32)), signer)  # the log signs a fork
    with pytest.raises(SplitViewError) as refused:
        witness.add_checkpoint(other_history, old_size=8, proof=[], now=NOW)
    assert refused.value.known_root == checkpoint.root
    assert witness.known_size(ORIGIN) == 8


def test_smaller_checkpoint_is_refused_as_a_rollback(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 3)
    small, _ = checkpoint_note(log, signer)
    grow(log, 4)
    large, _ = checkpoint_note(log, signer)
    witness.add_checkpoint(large, old_size=0, proof=[], now=NOW)
    with pytest.raises(RollbackError) as refused:
        witness.add_checkpoint(small, old_size=7, proof=[], now=NOW)
    assert (refused.value.known_size, refused.value.offered_size) == (7, 3)


def test_inconsistent_growth_and_wrong_starting_size_are_refused(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 6)
    note, _ = checkpoint_note(log, signer)
    witness.add_checkpoint(note, old_size=0, proof=[], now=NOW)
    grow(log, 5)
    forged_head = sign_checkpoint(Checkpoint(ORIGIN, 11, bytes(32)), signer)  # rewrote history, new root
    with pytest.raises(InconsistentCheckpointError) as refused:
        witness.add_checkpoint(forged_head, old_size=6, proof=log.consistency_proof(6, 11), now=NOW)
    assert isinstance(refused.value.__cause__, ProofError)
    honest, _ = checkpoint_note(log, signer)
    with pytest.raises(WitnessConflict) as conflict:
        witness.add_checkpoint(honest, old_size=3, proof=log.consistency_proof(3, 11), now=NOW)
    assert conflict.value.known_size == 6
    assert witness.known_size(ORIGIN) == 6


def test_unsigned_or_unknown_logs_are_refused(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 2)
    head = log.tree_head()
    with pytest.raises(UnknownLogError):
        other = Ed25519Signer.generate("other.example/log")
        witness.add_checkpoint(sign_checkpoint(Checkpoint(other.name, 2, head.root), other),
                               old_size=0, proof=[], now=NOW)
    impostor = Ed25519Signer.generate(ORIGIN)  # right name, wrong key
    with pytest.raises(SignatureError):
        witness.add_checkpoint(sign_checkpoint(Checkpoint(ORIGIN, 2, head.root), impostor),
                               old_size=0, proof=[], now=NOW)
    with pytest.raises(NoteError):
        witness.add_checkpoint("not a note", old_size=0, proof=[], now=NOW)


def test_witness_state_survives_a_restart(log: AuditLog, signer: Ed25519Signer, tmp_path: Path) -> None:
    key = CosignatureSigner.generate("source/tax")
    store_path = tmp_path / "witness" / "heads.json"
    grow(log, 9)
    note, _ = checkpoint_note(log, signer)
    Witness(key, [signer.verifier()], JsonFileWitnessStore(store_path)).add_checkpoint(
        note, old_size=0, proof=[], now=NOW
    )
    restarted = Witness(key, [signer.verifier()], JsonFileWitnessStore(store_path))
    assert restarted.known_size(ORIGIN) == 9
    with pytest.raises(SplitViewError):
        restarted.add_checkpoint(sign_checkpoint(Checkpoint(ORIGIN, 9, bytes(32)), signer),
                                 old_size=9, proof=[], now=NOW)


def test_publisher_collects_a_quorum_and_records_the_checkpoint(log: AuditLog, signer: Ed25519Signer) -> None:
    witnesses = [make_witness(signer, f"source/{unit}") for unit in ("tax", "social", "water")]
    publisher = CheckpointPublisher(log, signer, witnesses, quorum=2)
    grow(log, 10)
    first = publisher.publish(now=NOW)
    assert all(w.known_size(ORIGIN) == 10 for w in witnesses)
    grow(log, 7)
    published = publisher.publish(now=NOW + timedelta(minutes=5))
    assert published.checkpoint.size == 17 and published.refusals == ()
    verifiers = [w.verifier() for w in witnesses]
    verified = verify_checkpoint(log.latest_checkpoint() or "", signer.verifier(), witnesses=verifiers, quorum=3)
    assert verified.checkpoint.size == 17 and len(log.checkpoints()) == 2
    assert log.checkpoints() == [first.note, published.note]


def test_publisher_reports_refusals_and_enforces_its_quorum(log: AuditLog, signer: Ed25519Signer) -> None:
    honest = make_witness(signer, "source/tax")
    lied_to = make_witness(signer, "source/social")
    grow(log, 4)
    lied_to.add_checkpoint(sign_checkpoint(Checkpoint(ORIGIN, 4, bytes(32)), signer), old_size=0, proof=[], now=NOW)
    published = CheckpointPublisher(log, signer, [honest, lied_to], quorum=1).publish(now=NOW)
    assert [(name, type(error)) for name, error in published.refusals] == [("source/social", SplitViewError)]
    with pytest.raises(QuorumError):
        CheckpointPublisher(log, signer, [honest, lied_to], quorum=2).publish(now=NOW)


def test_inclusion_receipt_round_trip_and_tampering(log: AuditLog, signer: Ed25519Signer) -> None:
    witness = make_witness(signer)
    grow(log, 21)
    published = CheckpointPublisher(log, signer, [witness], quorum=1).publish(now=NOW)
    receipt = issue_receipt(log, 13, published.note)
    wire = InclusionReceipt.from_json(receipt.to_json())
    event, verified = verify_receipt(wire, signer.verifier(), witnesses=[witness.verifier()], quorum=1)
    assert event.use_id == "use-13" and verified.checkpoint.size == 21
    swapped = InclusionReceipt(log.leaf(14).leaf, 13, receipt.proof, receipt.checkpoint)
    with pytest.raises(ProofError):
        verify_receipt(swapped, signer.verifier())
    with pytest.raises(NoteError):
        InclusionReceipt.from_json(b'{"leaf": "", "index": -1, "proof": [], "checkpoint": ""}')


def test_witness_hands_out_its_latest_cosigned_checkpoint_cosigned_afresh(log: AuditLog, signer: Ed25519Signer,
                                                                         tmp_path: Path) -> None:
    store = JsonFileWitnessStore(tmp_path / "witness.json")
    key = CosignatureSigner.generate("source/tax")
    witness = Witness(key, [signer.verifier()], store)
    assert witness.latest_cosigned(ORIGIN, now=NOW) is None
    grow(log, 4)
    note, checkpoint = checkpoint_note(log, signer)
    # A line the log (or anyone) added under another name is not kept under this witness's answer.
    other = CosignatureSigner.generate("source/other")
    offered = add_cosignatures(note, [other.cosign(Checkpoint.body(checkpoint), now=NOW)])
    witness.add_checkpoint(offered, old_size=0, proof=[], now=NOW)
    later = NOW + timedelta(hours=2)
    restarted = Witness(key, [signer.verifier()], JsonFileWitnessStore(tmp_path / "witness.json"))
    latest = restarted.latest_cosigned(ORIGIN, now=later)
    verified = verify_checkpoint(latest, signer.verifier(), witnesses=[witness.verifier(), other.verifier()],
                                 quorum=1, now=later, max_age=timedelta(minutes=5))
    assert verified.checkpoint == checkpoint and verified.cosigners == (("source/tax", int(later.timestamp())),)
    assert witness.latest_cosigned("xyd.test/other-log", now=later) is None


def test_a_head_recorded_without_its_note_gets_one_at_the_next_cosignature(log: AuditLog, signer: Ed25519Signer,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "witness.json"
    witness = make_witness(signer, store=JsonFileWitnessStore(path))
    grow(log, 3)
    note, checkpoint = checkpoint_note(log, signer)
    witness.add_checkpoint(note, old_size=0, proof=[], now=NOW)
    # As a version that kept no notes wrote it: size and root only.
    state = json.loads(path.read_text())
    del state[ORIGIN]["note"]
    path.write_text(json.dumps(state))
    assert witness.latest_cosigned(ORIGIN, now=NOW) is None and witness.known_size(ORIGIN) == 3
    witness.add_checkpoint(note, old_size=3, proof=[], now=NOW)
    assert Checkpoint.from_body(parse_note(witness.latest_cosigned(ORIGIN, now=NOW)).text) == checkpoint
