"""PSI rounds journalled on each side: a run stopped after round k and resumed from the journals sends
only the later rounds and ends with the intersection an uninterrupted run finds."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from federation.channel import InMemoryHub
from federation.psi import PsiProtocolError, PsiResult, run_psi_follower, run_psi_leader
from federation.psi.journal import PsiJournal

LEADER, FOLLOWER = "platform/main", "source/tax"


class Crash(Exception):
    """A side stopping after a given round, as a SIGKILL would (its journal holds the rounds before)."""


def _ids(prefix: str, n: int, shared: int) -> list[str]:
    return [f"shared-{k}" for k in range(shared)] + [f"{prefix}-{k}" for k in range(n - shared)]


def _pair(tmp: Path, leader_ids: list[str], follower_ids: list[str], *, resume_from: int = 0,
          crash_after: int = 0, leader_learns: bool = True, timeout: float = 20) -> tuple[tuple[PsiResult, PsiResult] | None, InMemoryHub]:
    """One in-memory run with journals under `tmp`; None when it crashed as asked."""
    hub = InMemoryHub((LEADER, FOLLOWER))
    out: dict[str, object] = {}

    def stop_at(rounds: int) -> None:
        if crash_after and rounds == crash_after:
            raise Crash(rounds)

    def run(name: str, call) -> None:
        try:
            out[name] = call()
        except Exception as exc:  # handed to the test below
            out[name] = exc

    common = {"resume_from": resume_from, "on_round": stop_at, "timeout": timeout}
    threads = [
        threading.Thread(target=run, args=("follower", lambda: run_psi_follower(
            hub.channel(FOLLOWER), LEADER, follower_ids, reveal_to_me=True, reveal_to_peer=leader_learns,
            batch_size=30, rng=random.Random(), journal=PsiJournal(tmp / "follower"), **common))),
        threading.Thread(target=run, args=("leader", lambda: run_psi_leader(
            hub.channel(LEADER), FOLLOWER, leader_ids, reveal_to_peer=True, reveal_to_me=leader_learns,
            batch_size=50, rng=random.Random(), journal=PsiJournal(tmp / "leader"), **common))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if crash_after:
        assert all(isinstance(v, Crash) for v in out.values()), out
        return None, hub
    for value in out.values():
        if isinstance(value, Exception):
            raise value
    return (out["leader"], out["follower"]), hub


@pytest.mark.parametrize("leader_learns", [True, False])
def test_a_psi_resumed_after_round_k_finds_the_uninterrupted_intersection(tmp_path: Path, leader_learns: bool) -> None:
    leader_ids, follower_ids = _ids("p", 400, 150), _ids("s", 250, 150)
    whole, _ = _pair(tmp_path / "whole", leader_ids, follower_ids, leader_learns=leader_learns)
    assert whole is not None
    _pair(tmp_path / "cut", leader_ids, follower_ids, crash_after=3, leader_learns=leader_learns)
    resumed, hub = _pair(tmp_path / "cut", leader_ids, follower_ids, resume_from=3, leader_learns=leader_learns)
    assert resumed is not None
    for got, want in zip(resumed, whole, strict=True):
        assert got.size == want.size == 150 and got.intersection == want.intersection
    blinded = [int(tag.rsplit("/", 1)[1]) for _, _, tag, _ in hub.wire if "/blinded/" in tag]
    assert blinded and min(blinded) == 3  # rounds 0-2 came from the journals, not the wire


def test_a_journal_is_not_resumed_over_other_ids(tmp_path: Path) -> None:
    leader_ids, follower_ids = _ids("p", 200, 50), _ids("s", 200, 50)
    _pair(tmp_path, leader_ids, follower_ids, crash_after=2)
    with pytest.raises(PsiProtocolError, match="changed|order"):
        _pair(tmp_path, leader_ids[:-1] + ["another"], follower_ids, resume_from=2, timeout=1)
