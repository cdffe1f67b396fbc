"""The PSI result is exactly the set intersection, whoever learns it, on every kind of input."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.channel import InMemoryHub
from federation.psi import PsiResult, run_psi_follower, run_psi_leader

LEADER, FOLLOWER = "platform/main", "source/tax"


def run_pair(
    leader_ids: Iterable[str],
    follower_ids: Iterable[str],
    *,
    leader_learns: bool = True,
    follower_learns: bool = True,
    leader_batch: int = 64,
    follower_batch: int = 64,
    seed: int = 0,
    workers: int = 1,
    hub: InMemoryHub | None = None,
) -> tuple[PsiResult, PsiResult]:
    """Both results of one in-memory run; an exception on either side is raised here."""
    hub = hub if hub is not None else InMemoryHub((LEADER, FOLLOWER))
    outcome: dict[str, object] = {}

    def follow() -> None:
        try:
            outcome["follower"] = run_psi_follower(
                hub.channel(FOLLOWER), LEADER, follower_ids, reveal_to_me=follower_learns,
                reveal_to_peer=leader_learns, batch_size=follower_batch, rng=random.Random(seed + 1), workers=workers,
                timeout=20)
        except Exception as exc:  # handed to the test thread below
            outcome["follower_error"] = exc

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        leader = run_psi_leader(hub.channel(LEADER), FOLLOWER, leader_ids, reveal_to_peer=follower_learns,
                                reveal_to_me=leader_learns, batch_size=leader_batch, rng=random.Random(seed),
                                workers=workers, timeout=20)
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive(), "follower did not finish"
    if "follower_error" in outcome:
        raise outcome["follower_error"]  # type: ignore[misc]
    return leader, outcome["follower"]  # type: ignore[return-value]


def credit_codes(rng: random.Random, n: int) -> list[str]:
    """Distinct 18-character ids shaped like unified social credit codes."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    seen: set[str] = set()
    while len(seen) < n:
        seen.add("91" + "".join(rng.choice(alphabet) for _ in range(16)))
    return sorted(seen)


def check(leader_ids: list[str], follower_ids: list[str], **kwargs: object) -> None:
    """Run both sides and compare with Python's set intersection."""
    expected = sorted(set(leader_ids) & set(follower_ids))
    leader, follower = run_pair(leader_ids, follower_ids, **kwargs)
    assert leader.size == follower.size == len(expected)
    assert leader.intersection == expected
    assert follower.intersection == expected
    assert leader.own_size == follower.peer_size == len(set(leader_ids))
    assert follower.own_size == leader.peer_size == len(set(follower_ids))
    assert leader.duplicates_dropped == len(leader_ids) - len(set(leader_ids))
    assert follower.duplicates_dropped == len(follower_ids) - len(set(follower_ids))


def test_random_overlapping_sets_with_uneven_batches() -> None:
    rng = random.Random(7)
    pool = credit_codes(rng, 900)
    leader_ids = rng.sample(pool, 500)
    follower_ids = rng.sample(pool, 600)
    check(leader_ids, follower_ids, leader_batch=37, follower_batch=128)


def test_worker_processes_give_the_same_result() -> None:
    rng = random.Random(8)
    pool = credit_codes(rng, 700)
    check(pool[:500], pool[300:], leader_batch=60, follower_batch=90, workers=2)


@pytest.mark.parametrize(("leader_ids", "follower_ids"), [
    ([], []),
    ([], ["a", "b"]),
    (["a", "b"], []),
])
def test_empty_sides(leader_ids: list[str], follower_ids: list[str]) -> None:
    check(leader_ids, follower_ids)


def test_disjoint_sets() -> None:
    check([f"L{i}" for i in range(300)], [f"F{i}" for i in range(200)], leader_batch=50)


def test_identical_sets_in_different_orders() -> None:
    ids = credit_codes(random.Random(3), 250)
    check(ids, list(reversed(ids)), follower_batch=1)


def test_duplicate_laden_inputs() -> None:
    rng = random.Random(11)
    pool = credit_codes(rng, 60)
    leader_ids = [rng.choice(pool) for _ in range(400)]
    follower_ids = [rng.choice(pool[30:] + ["X", "Y"]) for _ in range(300)]
    check(leader_ids, follower_ids, leader_batch=16, follower_batch=9)


def test_unicode_and_prefix_ids_are_distinct() -> None:
    leader_ids = ["企业甲", "企业乙", "a", "a ", "", "ab", "A"]
    follower_ids = ["企业乙", "a", "", "abc", "a\u0000"]
    check(leader_ids, follower_ids, leader_batch=2, follower_batch=3)


@pytest.mark.parametrize(("leader_learns", "follower_learns"), [(True, False), (False, True), (False, False)])
def test_a_side_that_may_not_learn_gets_only_the_size(leader_learns: bool, follower_learns: bool) -> None:
    rng = random.Random(5)
    pool = credit_codes(rng, 300)
    leader_ids, follower_ids = pool[:200], pool[120:]
    leader, follower = run_pair(leader_ids, follower_ids, leader_learns=leader_learns,
                                follower_learns=follower_learns, leader_batch=30, follower_batch=45)
    expected = sorted(set(leader_ids) & set(follower_ids))
    assert leader.size == follower.size == len(expected)
    assert leader.intersection == (expected if leader_learns else None)
    assert follower.intersection == (expected if follower_learns else None)


@settings(max_examples=25, deadline=None)
@given(
    leader_ids=st.lists(st.text(max_size=4), max_size=40),
    follower_ids=st.lists(st.text(max_size=4), max_size=40),
    leader_batch=st.integers(1, 20),
    follower_batch=st.integers(1, 20),
    seed=st.integers(0, 2**32),
)
def test_matches_python_set_intersection(leader_ids: list[str], follower_ids: list[str], leader_batch: int,
                                         follower_batch: int, seed: int) -> None:
    check(leader_ids, follower_ids, leader_batch=leader_batch, follower_batch=follower_batch, seed=seed)
