"""The ECDH-PSI run between a leader and a follower over a `Channel` (docs/protocols/psi.md).

Both roles run the same steps; the role only names the tags and is checked in the hello:

1. hello: each side sends its set size, batch size and who-learns flags; any disagreement stops both.
2. rounds: in round r my batch r goes out blinded with my scalar (one round ahead), the peer's batch r is
   blinded again with my scalar, kept (to compare against) and, when the peer may learn the intersection,
   sent back in the peer's own order; a side that learns gets its own batch r back. A journal records
   each round so a crashed run resumes at the next one (`federation.psi.journal`).
3. when the peer may learn only the size, its doubly blinded points go back once, in byte order.
4. I compare my doubly blinded points (in my order, or sorted) with the peer's; sizes are cross-checked.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from random import Random

import numpy as np

from federation.channel import Channel
from federation.proto.psi_pb2 import PointBatch, PsiHello, PsiSummary
from federation.psi.blinding import BlindingKey, BlindingPool
from federation.psi.errors import PsiConfigMismatch, PsiProtocolError, PsiSizeMismatch
from federation.psi.hashing import POINT_BYTES, IdSet
from federation.psi.journal import PsiJournal
from federation.psi.matching import as_points, membership, sorted_packed

PROTOCOL_VERSION = 1
SUITE = "x25519-sha256-u/v1"
DEFAULT_BATCH_SIZE = 20_000
MAX_BATCH_SIZE = 1 << 20  # 32 MiB of points in one message
MAX_SET_SIZE = 1 << 32

Progress = Callable[[str, float], None]


class Role(StrEnum):
    """The two PSI roles; the leader is the party that starts the job (the platform)."""

    LEADER = "leader"
    FOLLOWER = "follower"

    @property
    def other(self) -> Role:
        return Role.FOLLOWER if self is Role.LEADER else Role.LEADER


@dataclass(frozen=True)
class PsiResult:
    """What one side learned: the size always, its own intersecting ids only if the job allows."""

    size: int
    intersection: list[str] | None  # this side's own ids in the intersection, sorted; None if not allowed
    own_size: int  # distinct ids on this side
    peer_size: int  # distinct ids on the peer's side (every PSI reveals it)
    duplicates_dropped: int  # rows of this side's input whose id appeared earlier


@dataclass(frozen=True)
class PsiTags:
    """Every tag of one run, under one namespace per (leader, follower) pair."""

    namespace: str

    @classmethod
    def for_pair(cls, leader: str, follower: str, session: str | None = None) -> PsiTags:
        pair = f"{leader.replace('/', ':')}~{follower.replace('/', ':')}"
        return cls(f"psi/{pair}" if session is None else f"psi/{session}/{pair}")

    def hello(self, sender: Role) -> str:
        return f"{self.namespace}/{sender.value}/hello"

    def blinded(self, sender: Role, index: int) -> str:
        return f"{self.namespace}/{sender.value}/blinded/{index}"

    def returned(self, sender: Role, index: int) -> str:
        return f"{self.namespace}/{sender.value}/returned/{index}"

    def returned_sorted(self, sender: Role, index: int) -> str:
        return f"{self.namespace}/{sender.value}/returned-sorted/{index}"

    def summary(self, sender: Role) -> str:
        return f"{self.namespace}/{sender.value}/summary"


def run_psi_leader(channel: Channel, peer: str, ids: Iterable[str], *, reveal_to_peer: bool,
                   reveal_to_me: bool = True, batch_size: int = DEFAULT_BATCH_SIZE, session: str | None = None,
                   progress: Progress | None = None, rng: Random | None = None, workers: int = 1,
                   timeout: float = 600.0, journal: PsiJournal | None = None, resume_from: int = 0,
                   on_round: Callable[[int], None] | None = None) -> PsiResult:
    """Lead a PSI with `peer`; the flags say who learns the intersection (both always learn its size)."""
    return run_psi(channel, peer, ids, role=Role.LEADER, leader_learns=reveal_to_me,
                   follower_learns=reveal_to_peer, batch_size=batch_size, session=session,
                   progress=progress, rng=rng, workers=workers, timeout=timeout, journal=journal,
                   resume_from=resume_from, on_round=on_round)


def run_psi_follower(channel: Channel, leader: str, ids: Iterable[str], *, reveal_to_me: bool,
                     reveal_to_peer: bool = True, batch_size: int = DEFAULT_BATCH_SIZE, session: str | None = None,
                     progress: Progress | None = None, rng: Random | None = None, workers: int = 1,
                     timeout: float = 600.0, journal: PsiJournal | None = None, resume_from: int = 0,
                     on_round: Callable[[int], None] | None = None) -> PsiResult:
    """Follow `leader` in a PSI; the flags must match the leader's or both sides stop."""
    return run_psi(channel, leader, ids, role=Role.FOLLOWER, leader_learns=reveal_to_peer,
                   follower_learns=reveal_to_me, batch_size=batch_size, session=session,
                   progress=progress, rng=rng, workers=workers, timeout=timeout, journal=journal,
                   resume_from=resume_from, on_round=on_round)


def run_psi(channel: Channel, peer: str, ids: Iterable[str], *, role: Role, leader_learns: bool,
            follower_learns: bool, batch_size: int = DEFAULT_BATCH_SIZE, session: str | None = None,
            progress: Progress | None = None, rng: Random | None = None, workers: int = 1,
            timeout: float = 600.0, journal: PsiJournal | None = None, resume_from: int = 0,
            on_round: Callable[[int], None] | None = None) -> PsiResult:
    """One side of a PSI run (both roles).

    `rng` defaults to the OS CSPRNG and must be one in production; `workers` > 1 blinds on that many
    spawned processes (worth it when this machine has cores the peer is not using); `timeout` bounds
    each wait for a peer message. With a `journal` each finished round is recorded and `on_round(r)` is
    called with the rounds done; `resume_from` > 0 continues after that many rounds of the journal's run
    (the peer resumes the same round from its own journal).
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be in 1..{MAX_BATCH_SIZE}, got {batch_size}")
    if resume_from and journal is None:
        raise ValueError("resuming a PSI needs its journal")
    rng = rng if rng is not None else random.SystemRandom()
    leader, follower = (channel.me, peer) if role is Role.LEADER else (peer, channel.me)
    side = _Side(channel, peer, role, PsiTags.for_pair(leader, follower, session), timeout,
                 progress if progress is not None else _silent)
    i_learn = leader_learns if role is Role.LEADER else follower_learns
    peer_learns = follower_learns if role is Role.LEADER else leader_learns

    if resume_from:
        assert journal is not None
        scalar, order, digest = journal.secrets()
        try:
            own = IdSet.build(ids, rng=rng, order=order)
        except ValueError as exc:
            raise PsiProtocolError(f"cannot resume this PSI: {exc}") from exc
        journal.check(own, digest)
        key = BlindingKey(scalar)
    else:
        own = IdSet.build(ids, rng=rng)
        key = BlindingKey.generate(rng)
        if journal is not None:
            journal.start(key.scalar, own)
    side.report(f"hashed {len(own)} distinct ids ({own.duplicates} duplicates dropped)", 0.0)
    peer_size, peer_batch = side.handshake(PsiHello(
        version=PROTOCOL_VERSION, suite=SUITE, role=role.value, set_size=len(own), batch_size=batch_size,
        leader_learns=leader_learns, follower_learns=follower_learns))

    plan = _Rounds(len(own), batch_size, peer_size, peer_batch)
    start = min(resume_from, plan.rounds)
    peer_doubles = journal.load("peer", start, plan.peer_batches) if start else bytearray()
    own_doubles = journal.load("own", start, plan.own_batches) if start and i_learn else bytearray()
    if start:
        side.report(f"resumed after round {start} of {plan.rounds}", start / max(1, plan.rounds))
    with BlindingPool(key, workers) as pool:
        sent = start
        for index in range(start, plan.rounds):
            # My batches run one round ahead, so the peer has work queued while I wait for its batch.
            ahead = min(plan.own_batches, index + 2)
            side.send_blinded(pool, own, batch_size, range(sent, ahead))
            sent = max(sent, ahead)
            peer_double = None
            if index < plan.peer_batches:
                peer_double = side.reblind_peer_batch(pool, index, plan.peer_count(index), send_back=peer_learns)
                peer_doubles += peer_double
            own_double = None
            if i_learn and index < plan.own_batches:
                own_double = side.receive_returned(index, plan.own_count(index))
                own_doubles += own_double
            if journal is not None:
                journal.save_round(index, peer_double, own_double)
            side.report(f"round {index + 1}/{plan.rounds}: {len(peer_doubles) // POINT_BYTES} of the peer's "
                        f"{peer_size} points blinded", (index + 1) / plan.rounds)
            if on_round is not None:
                on_round(index + 1)
    peer_points = as_points(peer_doubles)
    if not peer_learns:
        side.send_sorted(peer_points, batch_size)
    own_points = (as_points(own_doubles) if i_learn
                  else side.receive_own(len(own), peer_batch, in_my_order=False))

    hits = membership(own_points, peer_points)
    size = int(hits.sum())
    side.cross_check(size)
    intersection = sorted(own.id_at(int(k)) for k in np.flatnonzero(hits)) if i_learn else None
    side.report(f"intersection of {size} ids" + (" (ids kept locally)" if i_learn else " (size only)"), 1.0)
    return PsiResult(size=size, intersection=intersection, own_size=len(own), peer_size=peer_size,
                     duplicates_dropped=own.duplicates)


@dataclass(frozen=True)
class _Rounds:
    """Round r carries my batch r and the peer's batch r (a side with fewer batches sits the rest out)."""

    own_size: int
    own_batch: int
    peer_size: int
    peer_batch: int

    @property
    def own_batches(self) -> int:
        return -(-self.own_size // self.own_batch)

    @property
    def peer_batches(self) -> int:
        return -(-self.peer_size // self.peer_batch)

    @property
    def rounds(self) -> int:
        return max(self.own_batches, self.peer_batches)

    def own_count(self, index: int) -> int:
        return min(self.own_batch, self.own_size - index * self.own_batch)

    def peer_count(self, index: int) -> int:
        return min(self.peer_batch, self.peer_size - index * self.peer_batch)


@dataclass(frozen=True)
class _Side:
    """The channel-facing steps of one side; the numbers in the docstrings are the module's steps."""

    channel: Channel
    peer: str
    role: Role
    tags: PsiTags
    timeout: float
    report: Progress

    def handshake(self, hello: PsiHello) -> tuple[int, int]:
        """Step 1: exchange hellos, refuse any disagreement; the peer's set size and batch size."""
        self.channel.send(self.peer, self.tags.hello(self.role), hello)
        theirs = self.channel.recv(self.peer, self.tags.hello(self.role.other), PsiHello, self.timeout)
        _check_hello(hello, theirs, expected_role=self.role.other)
        return int(theirs.set_size), int(theirs.batch_size)

    def send_blinded(self, pool: BlindingPool, own: IdSet, batch_size: int, indices: range) -> None:
        """Step 2a: my batches `indices`, blinded with my scalar (the same bytes if a resumed run sends one
        again: same key, same order)."""
        batches = (own.batch(i * batch_size, min((i + 1) * batch_size, len(own))) for i in indices)
        for index, blinded in zip(indices, pool.map(batches), strict=True):
            self.channel.send(self.peer, self.tags.blinded(self.role, index),
                              PointBatch(index=index, count=len(blinded) // POINT_BYTES, points=blinded))

    def reblind_peer_batch(self, pool: BlindingPool, index: int, count: int, *, send_back: bool) -> bytes:
        """Step 2b: blind the peer's batch `index` again; return it in order if the peer learns."""
        incoming = self._recv_batch(self.tags.blinded(self.role.other, index), index, count)
        double = next(iter(pool.map([incoming])))
        if send_back:
            # The peer gets its own points back in its own order: it can map them to its ids.
            self.channel.send(self.peer, self.tags.returned(self.role, index),
                              PointBatch(index=index, count=count, points=double))
        return double

    def receive_returned(self, index: int, count: int) -> bytes:
        """Step 4a, per round: my batch `index` doubly blinded, in my order (a side that learns)."""
        return self._recv_batch(self.tags.returned(self.role.other, index), index, count)

    def send_sorted(self, peer_points: np.ndarray, batch_size: int) -> None:
        """Step 3: byte order is a uniformly random order for the peer (it cannot compute my blinding),
        so these points tell it the intersection size and nothing about which of its ids are in it."""
        packed = sorted_packed(peer_points)
        step = batch_size * POINT_BYTES
        for index, start in enumerate(range(0, len(packed), step)):
            chunk = packed[start:start + step]
            self.channel.send(self.peer, self.tags.returned_sorted(self.role, index),
                              PointBatch(index=index, count=len(chunk) // POINT_BYTES, points=chunk))

    def receive_own(self, own_size: int, batch_size: int, *, in_my_order: bool) -> np.ndarray:
        """Step 4a: my doubly blinded points, in my order (I learn) or in byte order (size only)."""
        them = self.role.other
        doubles = bytearray(own_size * POINT_BYTES)
        for index, start in enumerate(range(0, own_size, batch_size)):
            tag = self.tags.returned(them, index) if in_my_order else self.tags.returned_sorted(them, index)
            count = min(batch_size, own_size - start)
            doubles[start * POINT_BYTES:(start + count) * POINT_BYTES] = self._recv_batch(tag, index, count)
        return as_points(doubles)

    def cross_check(self, size: int) -> None:
        """Step 4b: both sides announce the size they computed; a difference stops both."""
        self.channel.send(self.peer, self.tags.summary(self.role), PsiSummary(intersection_size=size))
        reply = self.channel.recv(self.peer, self.tags.summary(self.role.other), PsiSummary, self.timeout)
        if reply.intersection_size != size:
            raise PsiSizeMismatch(size, int(reply.intersection_size))

    def _recv_batch(self, tag: str, index: int, expected: int) -> bytes:
        """Receive one PointBatch and check that it is the batch and size the protocol says."""
        batch = self.channel.recv(self.peer, tag, PointBatch, self.timeout)
        if batch.index != index or batch.count != expected or len(batch.points) != expected * POINT_BYTES:
            raise PsiProtocolError(f"{tag}: expected batch {index} of {expected} points, got batch {batch.index} "
                                   f"claiming {batch.count} points in {len(batch.points)} bytes")
        return batch.points


def _check_hello(mine: PsiHello, theirs: PsiHello, *, expected_role: Role) -> None:
    """Refuse a peer that runs another version or suite, claims the wrong role or other flags."""
    for field, want, got in (
        ("version", mine.version, theirs.version),
        ("suite", mine.suite, theirs.suite),
        ("role", expected_role.value, theirs.role),
        ("leader_learns", mine.leader_learns, theirs.leader_learns),
        ("follower_learns", mine.follower_learns, theirs.follower_learns),
    ):
        if want != got:
            raise PsiConfigMismatch(field, want, got)
    if not 1 <= theirs.batch_size <= MAX_BATCH_SIZE:
        raise PsiProtocolError(f"peer batch size {theirs.batch_size} outside 1..{MAX_BATCH_SIZE}")
    if theirs.set_size > MAX_SET_SIZE:
        raise PsiProtocolError(f"peer set size {theirs.set_size} above {MAX_SET_SIZE}")


def _silent(message: str, fraction: float) -> None:
    """The default progress sink."""
