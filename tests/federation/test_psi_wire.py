"""What crosses the wire in a PSI run: no id in any form, and only what each side's flags allow."""

from __future__ import annotations

import hashlib
import random

import pytest

from federation.channel import InMemoryHub
from federation.proto.psi_pb2 import PointBatch, PsiHello
from federation.psi import InvalidPointError, PsiConfigMismatch, PsiProtocolError, run_psi_leader
from federation.psi.hashing import hash_to_u
from tests.federation.test_psi import FOLLOWER, LEADER, credit_codes, run_pair


def id_fingerprints(ids: list[str]) -> list[bytes]:
    """Every form of an id a leak could take: its text, its plain SHA-256, its unblinded point."""
    forms = []
    for text in ids:
        forms += [text.encode(), hashlib.sha256(text.encode()).digest()[:12], hash_to_u(text)[:12]]
    return forms


def test_no_raw_id_nor_hash_of_an_id_is_on_the_wire() -> None:
    rng = random.Random(21)
    pool = credit_codes(rng, 400)
    leader_ids, follower_ids = pool[:250], pool[150:]
    hub = InMemoryHub((LEADER, FOLLOWER))
    leader, _ = run_pair(leader_ids, follower_ids, hub=hub, leader_batch=40, follower_batch=70)
    assert leader.size == 100
    payload = b"".join(tag.encode() + body for _, _, tag, body in hub.wire)
    assert len(payload) > 32 * (250 + 250)
    leaks = [form for form in id_fingerprints(pool) if form in payload]
    assert leaks == []


def kinds(hub: InMemoryHub, party: str) -> set[str]:
    """The message kinds (tag without namespace, sender role and batch number) a party received."""
    out = set()
    for _, to, tag, _ in hub.wire:
        if to == party:
            parts = tag.split("/")[3:]  # psi/<pair>/<sender role>/<kind>[/<batch>]
            out.add(parts[0])
    return out


@pytest.mark.parametrize("size_only", [LEADER, FOLLOWER])
def test_a_size_only_side_receives_its_points_back_only_in_byte_order(size_only: str) -> None:
    rng = random.Random(22)
    pool = credit_codes(rng, 300)
    hub = InMemoryHub((LEADER, FOLLOWER))
    leader, follower = run_pair(pool[:200], pool[100:], hub=hub, leader_learns=size_only != LEADER,
                                follower_learns=size_only != FOLLOWER, leader_batch=30, follower_batch=45)
    assert leader.size == follower.size == 100
    learner = FOLLOWER if size_only == LEADER else LEADER
    # The size-only side gets: the hello, the peer's singly blinded points (random order), its own
    # doubly blinded points sorted by value, and the peer's size: never its points in its own order.
    assert kinds(hub, size_only) == {"hello", "blinded", "returned-sorted", "summary"}
    assert kinds(hub, learner) == {"hello", "blinded", "returned", "summary"}
    sorted_batches = {int(tag.rsplit("/", 1)[1]): PointBatch.FromString(body).points
                      for _, to, tag, body in hub.wire if to == size_only and "/returned-sorted/" in tag}
    returned = b"".join(sorted_batches[index] for index in sorted(sorted_batches))
    chunks = [returned[i:i + 32] for i in range(0, len(returned), 32)]
    assert len(chunks) == 200 and chunks == sorted(chunks)


def test_the_sides_refuse_to_run_when_the_flags_differ() -> None:
    hub = InMemoryHub((LEADER, FOLLOWER))
    hub.channel(FOLLOWER).send(LEADER, f"psi/{LEADER.replace('/', ':')}~{FOLLOWER.replace('/', ':')}/follower/hello",
                               PsiHello(version=1, suite="x25519-sha256-u/v1", role="follower", set_size=3,
                                        batch_size=10, leader_learns=True, follower_learns=True))
    with pytest.raises(PsiConfigMismatch) as caught:
        run_psi_leader(hub.channel(LEADER), FOLLOWER, ["a", "b"], reveal_to_peer=False, timeout=5)
    assert caught.value.field == "follower_learns"


def fake_follower(hub: InMemoryHub, *, set_size: int, batch: PointBatch) -> None:
    """Queue a follower's hello and first batch, as a misbehaving peer would send them."""
    ns = f"psi/{LEADER.replace('/', ':')}~{FOLLOWER.replace('/', ':')}/follower"
    channel = hub.channel(FOLLOWER)
    channel.send(LEADER, f"{ns}/hello", PsiHello(version=1, suite="x25519-sha256-u/v1", role="follower",
                                                 set_size=set_size, batch_size=10, leader_learns=True,
                                                 follower_learns=False))
    channel.send(LEADER, f"{ns}/blinded/0", batch)


def test_a_batch_with_the_wrong_point_count_is_refused() -> None:
    hub = InMemoryHub((LEADER, FOLLOWER))
    fake_follower(hub, set_size=2, batch=PointBatch(index=0, count=2, points=bytes(32 * 3)))
    with pytest.raises(PsiProtocolError):
        run_psi_leader(hub.channel(LEADER), FOLLOWER, ["a"], reveal_to_peer=False, timeout=5)


def test_a_low_order_point_from_the_peer_is_refused() -> None:
    hub = InMemoryHub((LEADER, FOLLOWER))
    fake_follower(hub, set_size=2, batch=PointBatch(index=0, count=2, points=hash_to_u("x") + bytes(32)))
    with pytest.raises(InvalidPointError):
        run_psi_leader(hub.channel(LEADER), FOLLOWER, ["a"], reveal_to_peer=False, timeout=5)
