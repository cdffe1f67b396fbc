"""Signed notes and checkpoints: interoperability vectors, format rules, signatures and quorums."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from consent.audit import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteError,
    QuorumError,
    SignatureError,
    add_cosignatures,
    open_note,
    parse_note,
    sign_checkpoint,
    verify_checkpoint,
)
from consent.audit.note import key_id

EM = "\u2014"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# Interoperability vectors, public artefacts of other implementations:
# - the example note of golang.org/x/mod/sumdb/note (package documentation) and its verifier key;
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
# - the verifier key of the example in c2sp.org/signed-note;
C2SP_EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
# - a checkpoint of the public staging log arche2025h1 cosigned (cosignature/v1) by the public witness
#   remora.n621.de, with that witness's published type-0x04 verifier key.
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
ARCHE_TEXT = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
ARCHE_LOG_LINE = (
    "arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkp"
    "tQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0="
)
REMORA_LINE = (
    "remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtq"
    "B0DrAWfBw=="
)


def test_go_sumdb_note_vector_verifies() -> None:
    verifier = Ed25519Verifier.from_vkey(GO_VKEY)
    assert verifier.vkey() == GO_VKEY
    opened = open_note(f"{GO_TEXT}\n{EM} PeterNeumann {GO_SIGNATURE}\n", [verifier])
    assert opened.note.text == GO_TEXT and opened.verified[0].name == "PeterNeumann"
    tampered = GO_TEXT.replace("answer", "Answer")
    with pytest.raises(SignatureError):
        open_note(f"{tampered}\n{EM} PeterNeumann {GO_SIGNATURE}\n", [verifier])


def test_key_ids_follow_the_signed_note_derivation() -> None:
    example = Ed25519Verifier.from_vkey(C2SP_EXAMPLE_VKEY)
    assert example.key_id == 0x530D903A
    remora = CosignatureVerifier.from_vkey(REMORA_VKEY)
    assert remora.key_id == 0xDA77ADE7 and remora.vkey() == REMORA_VKEY
    wrong_id = C2SP_EXAMPLE_VKEY.replace("530d903a", "530d903b")
    with pytest.raises(NoteError):
        Ed25519Verifier.from_vkey(wrong_id)
    with pytest.raises(NoteError):
        CosignatureVerifier.from_vkey(C2SP_EXAMPLE_VKEY)  # a type 0x01 key is not a cosigner key


def test_real_witness_cosignature_verifies_and_binds_the_checkpoint() -> None:
    remora = CosignatureVerifier.from_vkey(REMORA_VKEY)
    note = f"{ARCHE_TEXT}\n{EM} {ARCHE_LOG_LINE}\n{EM} {REMORA_LINE}\n"
    opened = open_note(note, [remora])  # the log's own RFC 6962 signature (type 0x05) is ignored
    assert remora.timestamp_of(opened.verified[0]) > 1_700_000_000
    assert Checkpoint.from_body(opened.note.text).size == 1432088532
    with pytest.raises(SignatureError):
        open_note(note.replace("1432088532", "1432088533"), [remora])


def test_checkpoint_body_layout_and_parsing() -> None:
    root = bytes(range(32))
    checkpoint = Checkpoint("xyd.example/audit", 20852163, root)
    assert checkpoint.body() == f"xyd.example/audit\n20852163\n{base64.b64encode(root).decode()}\n"
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint
    with_ext = Checkpoint("o", 0, root, ("ext one",))
    assert Checkpoint.from_body(with_ext.body()) == with_ext
    for bad in ("o\n012\n" + base64.b64encode(root).decode() + "\n",  # leading zero
                "o\n12\n" + base64.b64encode(root[:31]).decode() + "\n",  # short root
                "o\n12\n",  # no root
                "o\n-1\n" + base64.b64encode(root).decode() + "\n"):
        with pytest.raises(NoteError):
            Checkpoint.from_body(bad)


@pytest.mark.parametrize(
    "note",
    [
        "text\n\u2014 k AAAAAAA=\n",  # no blank line
        "text\n\n",  # no signatures
        "text\n\n\u2014 k AAAAAAA=",  # no final newline
        "text\n\n- k AAAAAAAAAA==\n",  # hyphen instead of em dash
        "text\n\n\u2014 k not-base64!\n",
        "te\x07xt\n\n\u2014 k AAAAAAAAAA==\n",  # control character
        "text\n\n\u2014 k+x AAAAAAAAAA==\n",  # '+' in key name
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        parse_note(note)


def _signed(size: int = 5) -> tuple[Ed25519Signer, str, Checkpoint]:
    signer = Ed25519Signer.generate("xyd.example/audit")
    checkpoint = Checkpoint(signer.name, size, bytes(32))
    return signer, sign_checkpoint(checkpoint, signer), checkpoint


def test_checkpoint_signature_origin_and_unknown_keys() -> None:
    signer, note, checkpoint = _signed()
    assert verify_checkpoint(note, signer.verifier()).checkpoint == checkpoint
    stranger = Ed25519Signer.generate("someone.else/log")
    with_stranger = add_cosignatures(note, [stranger.sign(checkpoint.body())])
    assert verify_checkpoint(with_stranger, signer.verifier()).checkpoint == checkpoint  # unknown: ignored
    with pytest.raises(SignatureError):
        verify_checkpoint(note, Ed25519Signer.generate("xyd.example/audit").verifier())  # same name, other key
    impostor = Ed25519Signer.generate("evil.example/log")
    with pytest.raises(SignatureError, match="origin"):
        verify_checkpoint(sign_checkpoint(checkpoint, impostor), impostor.verifier())
    forged = note.replace("\n5\n", "\n6\n")
    with pytest.raises(SignatureError):
        verify_checkpoint(forged, signer.verifier())


def test_witness_quorum_and_freshness() -> None:
    signer, note, checkpoint = _signed()
    witnesses = [CosignatureSigner.generate(f"source/{unit}") for unit in ("tax", "social", "water")]
    verifiers = [w.verifier() for w in witnesses]
    cosigned = add_cosignatures(note, [w.cosign(checkpoint.body(), now=NOW) for w in witnesses[:2]])
    verified = verify_checkpoint(cosigned, signer.verifier(), witnesses=verifiers, quorum=2)
    assert {name for name, _ in verified.cosigners} == {"source/tax", "source/social"}
    with pytest.raises(QuorumError) as short:
        verify_checkpoint(cosigned, signer.verifier(), witnesses=verifiers, quorum=3)
    assert (short.value.required, short.value.found) == (3, 2)
    with pytest.raises(QuorumError):  # cosignatures older than max_age do not count
        verify_checkpoint(cosigned, signer.verifier(), witnesses=verifiers, quorum=1,
                          now=NOW + timedelta(hours=2), max_age=timedelta(hours=1))
    bad = witnesses[2].cosign(checkpoint.body(), now=NOW)
    corrupted = add_cosignatures(note, [type(bad)(bad.name, bad.key_id, bad.signature[:8] + bytes(64))])
    with pytest.raises(SignatureError):  # a known key's bad signature rejects the whole note
        verify_checkpoint(corrupted, signer.verifier(), witnesses=verifiers)


def test_cosignature_message_and_key_id_follow_tlog_cosignature() -> None:
    witness = CosignatureSigner.generate("source/tax")
    signature = witness.cosign("o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", now=NOW)
    assert len(signature.signature) == 72
    assert int.from_bytes(signature.signature[:8], "big") == int(NOW.timestamp())
    raw = witness.verifier().vkey().split("+", 2)[2]  # base64 may itself contain "+"
    assert base64.b64decode(raw)[0] == 0x04
    assert signature.key_id == key_id("source/tax", 0x04, base64.b64decode(raw)[1:])
