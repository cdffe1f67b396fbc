"""`verify_history`: the stored log must extend every checkpoint held outside it (witnesses, receipts, the
officer's copy); truncation, rollback and forks are reported as such. In-process witnesses, SQLite files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from consent.audit import (
    AuditEvent,
    AuditLog,
    Checkpoint,
    CheckpointPublisher,
    CosignatureSigner,
    Ed25519Signer,
    EventKind,
    Holder,
    LogForkedError,
    LogRolledBackError,
    LogTamperedError,
    LogTruncatedError,
    LogTrust,
    SignatureError,
    Witness,
    WitnessAnswer,
    WitnessesUnavailableError,
    issue_receipt,
    open_engine,
    sign_checkpoint,
    verify_history,
)
from sandbox import audit_attacks as attack

ORIGIN = "xyd.test/registry-audit"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TAX, SOCIAL = "source/tax", "source/social"


def use_event(n: int, tag: str = "use") -> AuditEvent:
    return AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, occurred_at=NOW + timedelta(seconds=n),
                      authorisation_id="auth-1", use_id=f"{tag}-{n}", institution="bank/icbc-sz", source_unit=TAX)


def grow(log: AuditLog, count: int, tag: str = "use") -> None:
    start = log.tree_size()
    with log.engine.begin() as conn:
        log.append_many(conn, [use_event(n, tag) for n in range(start, start + count)])


class Federation:
    """A log with two witnesses and two published checkpoints (sizes 6 and 13), 3 leaves beyond."""

    def __init__(self, path: Path) -> None:
        self.log = AuditLog(open_engine(f"sqlite:///{path}"))
        self.log.create_schema()
        self.signer = Ed25519Signer.generate(ORIGIN)
        self.witnesses = [Witness(CosignatureSigner.generate(name), [self.signer.verifier()]) for name in (TAX, SOCIAL)]
        self.trust = LogTrust(self.signer.verifier(), tuple(w.verifier() for w in self.witnesses), 2)
        publisher = CheckpointPublisher(self.log, self.signer, self.witnesses, quorum=2)
        grow(self.log, 6)
        self.first = publisher.publish(now=NOW).note
        grow(self.log, 7)
        self.second = publisher.publish(now=NOW + timedelta(minutes=1)).note
        grow(self.log, 3)

    def answers(self, now: datetime = NOW) -> list[WitnessAnswer]:
        return [WitnessAnswer(w.name, w.latest_cosigned(ORIGIN, now=now)) for w in self.witnesses]

    def verify(self, **kwargs: object):
        kwargs.setdefault("witness_answers", self.answers())
        return verify_history(self.log, self.trust, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def fed(tmp_path: Path) -> Federation:
    return Federation(tmp_path / "audit.db")


def test_an_intact_log_extends_everything_held_and_names_the_newest(fed: Federation) -> None:
    receipt = issue_receipt(fed.log, 4, fed.second)
    report = fed.verify(receipts=[("r.json", receipt)], saved=[("a.note", fed.first)], last_verified=fed.first)
    assert report.head.size == report.rows_checked == 16
    assert [h.label for h in report.held] == [f"witness {TAX}", f"witness {SOCIAL}", "receipt r.json",
                                              "saved checkpoint a.note", "the officer's last verified checkpoint"]
    assert report.newest is not None and report.newest.checkpoint.size == 13 and len(report.newest.cosigners) == 2


def test_truncation_is_reported_through_each_outside_holder(fed: Federation) -> None:
    receipt = issue_receipt(fed.log, 10, fed.second)
    attack.truncate(fed.log, 6)  # back to the first checkpoint, which is now the newest stored one
    with pytest.raises(LogTruncatedError) as caught:
        fed.verify()
    assert (caught.value.holder, caught.value.trusted_size, caught.value.stored_size) == (f"witness {TAX}", 13, 6)
    with pytest.raises(LogTruncatedError, match="receipt r.json holds a checkpoint of size 13"):
        fed.verify(witness_answers=None, receipts=[("r.json", receipt)])
    with pytest.raises(LogRolledBackError) as rolled:
        fed.verify(witness_answers=None, last_verified=fed.second)
    assert rolled.value.holder == Holder.OFFICER.value and rolled.value.trusted_root != rolled.value.stored_root
    assert fed.verify(witness_answers=None).head.size == 6  # nothing held outside: undetectable, as documented


def test_a_checkpoint_left_behind_by_a_truncation_is_the_logs_own_evidence(fed: Federation) -> None:
    head = fed.log.tables.head
    attack.truncate(fed.log, 13)
    with fed.log.engine.begin() as conn:  # rows and head cut further, the checkpoint of size 13 left in place
        conn.execute(fed.log.tables.leaf.delete().where(fed.log.tables.leaf.c.idx >= 9))
        conn.execute(head.update().values(tree_size=0, frontier=b""))
    attack.rebuild_derived(fed.log)
    with pytest.raises(LogTruncatedError, match="the log's own checkpoint holds a checkpoint of size 13"):
        fed.verify(witness_answers=None)


def test_rows_beyond_the_head_are_tampering(fed: Federation) -> None:
    """A row the head does not count (a use slipped in, or a head rewritten smaller with its rows left):
    it is in no checkpoint, yet listings would show it."""
    assert fed.log.tree_size() == 16
    with fed.log.engine.begin() as conn:
        conn.execute(fed.log.tables.leaf.insert().values(
            idx=16, leaf_hash=bytes(32), kind="verification_answered", occurred_at_ms=0, leaf=b"{}"))
    with pytest.raises(LogTamperedError, match="beyond the head") as caught:
        fed.verify()
    assert caught.value.index == 16


def test_a_fork_resigned_with_the_log_key_is_reported(fed: Federation) -> None:
    attack.fork(fed.log, 6, [use_event(n, "forged") for n in range(6, 13)], fed.signer, now=NOW)
    with pytest.raises(LogForkedError) as same_size:
        fed.verify()
    assert same_size.value.trusted_size == same_size.value.stored_size == 13
    grow(fed.log, 2, "forged")
    attack.resign_head(fed.log, fed.signer, now=NOW)
    with pytest.raises(LogForkedError) as longer:
        fed.verify()
    assert isinstance(longer.value.__cause__, Exception) and longer.value.stored_size == 15


def test_rewritten_rows_against_the_logs_own_checkpoints_are_tampering(fed: Federation) -> None:
    forged = fed.log.leaf(8).leaf.replace(b"bank/icbc-sz", b"bank/cmb-sz")
    attack.rewrite_leaf(fed.log, 8, forged, rebuild=True)  # consistent hashes, checkpoint 13 still stored
    with pytest.raises(LogTamperedError, match="hash to"):
        fed.verify()
    with pytest.raises(LogTamperedError, match="does not extend its own checkpoint of size 13"):
        fed.verify(check_rows=False)


def test_witness_answers_must_be_cosigned_fresh_and_in_quorum(fed: Federation) -> None:
    later = NOW + timedelta(hours=1)
    limit = timedelta(minutes=5)
    assert fed.verify(witness_answers=fed.answers(later), now=later, max_age=limit).unanswered == ()
    with pytest.raises(WitnessesUnavailableError, match="older than") as stale:
        fed.verify(witness_answers=fed.answers(NOW), now=later, max_age=limit)  # answers replayed an hour later
    assert (stale.value.required, stale.value.answered) == (2, 0)
    down = [fed.answers()[0], WitnessAnswer(SOCIAL, failure="UNAVAILABLE: connection refused")]
    with pytest.raises(WitnessesUnavailableError, match="connection refused"):
        fed.verify(witness_answers=down)
    quorum_one = LogTrust(fed.trust.log, fed.trust.witnesses, 1)
    report = verify_history(fed.log, quorum_one, witness_answers=down)
    assert report.unanswered == ((SOCIAL, "UNAVAILABLE: connection refused"),)
    unsigned = WitnessAnswer(TAX, fed.second.split("\n\n")[0] + "\n\n" + fed.second.split("\n\n")[1].splitlines()[0]
                             + "\n")
    with pytest.raises(SignatureError, match=f"answer of witness {TAX} is not cosigned"):
        fed.verify(witness_answers=[unsigned, fed.answers()[1]])
    other_log = Ed25519Signer.generate(ORIGIN)
    with pytest.raises(SignatureError):
        fed.verify(last_verified=sign_checkpoint(Checkpoint(ORIGIN, 13, bytes(32)), other_log))
    never = fed.verify(witness_answers=[WitnessAnswer(TAX), WitnessAnswer(SOCIAL)])  # honest, cosigned nothing yet
    assert never.held == ()


def _memory_log() -> AuditLog:
    log = AuditLog(create_engine("sqlite://", poolclass=StaticPool))
    log.create_schema()
    return log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 40), data=st.data())
def test_a_held_checkpoint_passes_exactly_when_the_stored_log_extends_it(size: int, data: st.DataObject) -> None:
    """Any held checkpoint of the log, any truncation or fork: the verdict follows from sizes and prefixes."""
    log = _memory_log()
    grow(log, size)
    signer = Ed25519Signer.generate(ORIGIN)
    trust = LogTrust(signer.verifier())
    held = data.draw(st.integers(0, size), label="held size")
    note = sign_checkpoint(Checkpoint(ORIGIN, held, log.root(held)), signer)
    change = data.draw(st.sampled_from(["none", "truncate", "fork"]), label="attack")
    cut = data.draw(st.integers(0, size - 1), label="cut at")
    if change == "truncate":
        attack.truncate(log, cut)
    elif change == "fork":
        extra = data.draw(st.integers(0, 5), label="longer by")
        attack.truncate(log, cut)
        grow(log, size - cut + extra, "forged")
    stored = log.tree_size()
    check_rows = data.draw(st.booleans(), label="recompute rows")
    outcome: type[Exception] | None = None
    if stored < held:
        outcome = LogTruncatedError
    elif change == "fork" and cut < held:
        outcome = LogForkedError
    if outcome is None:
        report = verify_history(log, trust, witness_answers=None, saved=[("n", note)], check_rows=check_rows)
        assert report.head.size == stored
    else:
        with pytest.raises(outcome):
            verify_history(log, trust, witness_answers=None, saved=[("n", note)], check_rows=check_rows)
