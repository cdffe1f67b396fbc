"""Per-peer slots, the stall watchdog and the `[limits]` section, on an injected clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.call_limits import CallLimits, PeerSlots, SlotsFull, StallWatchdog, WatchedRequests
from federation.chunking import HARD_MAX_MESSAGE_BYTES


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_come_from_the_config_section_in_mib_and_seconds() -> None:
    limits = CallLimits.from_section({"workers": 40, "push_idle_s": 5, "max_message_mb": 64, "pushes_total": 10})
    assert (limits.workers, limits.push_idle_s, limits.pushes_total) == (40, 5.0, 10)
    assert limits.max_message_bytes == 64 << 20
    assert limits.max_unread_bytes == 2 * HARD_MAX_MESSAGE_BYTES  # the default stays above the message ceiling
    assert CallLimits.from_section({}) == CallLimits()


@pytest.mark.parametrize("section, why", [
    ({"push_idle": 5}, "unknown"),
    ({"pushes_total": 32}, "below workers"),
    ({"workers": 0}, "at least 1"),
    ({"request_s": 0}, "positive"),
    ({"max_message_mb": 5000}, "max_message_mb"),
    ({"max_message_mb": 64, "max_unread_mb": 32}, "max_unread_mb"),
])
def test_bad_limits_are_refused(section: dict, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        CallLimits.from_section(section)


def test_slots_cap_each_peer_and_everyone_together() -> None:
    slots = PeerSlots(per_peer=2, total=3)
    slots.acquire("source/court")
    slots.acquire("source/court")
    with pytest.raises(SlotsFull):
        slots.acquire("source/court")
    slots.acquire("platform/main")
    with pytest.raises(SlotsFull):  # the total is reached although this peer holds none
        slots.acquire("source/tax")
    slots.release("source/court")
    with slots.hold("source/tax"):
        assert slots.held() == 3 and slots.held("source/tax") == 1
    assert slots.held("source/tax") == 0


@settings(max_examples=50, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), max_size=60))
def test_slots_never_exceed_their_caps(ops: list[tuple[str, bool]]) -> None:
    slots, held = PeerSlots(per_peer=2, total=4), []
    for peer, take in ops:
        if take:
            try:
                slots.acquire(peer)
                held.append(peer)
            except SlotsFull:
                assert held.count(peer) == 2 or len(held) == 4
        elif peer in held:
            slots.release(peer)
            held.remove(peer)
        assert slots.held() == len(held) <= 4 and all(held.count(p) <= 2 for p in "abc")


def test_the_watchdog_cancels_only_calls_past_their_deadline() -> None:
    clock, cancelled = Clock(), []
    watchdog = StallWatchdog(clock=clock)
    watchdog.arm("a", clock.now + 5, lambda: cancelled.append("a"), "a stalled")
    watchdog.arm("b", clock.now + 10, lambda: cancelled.append("b"), "b stalled")
    assert watchdog.sweep() == [] and cancelled == []
    clock.now += 5
    assert watchdog.sweep() == ["a stalled"] and cancelled == ["a"]
    watchdog.disarm("b")
    clock.now += 100
    assert watchdog.sweep() == [] and watchdog.armed() == 0


def _stream(items: list[bytes], on_wait) -> Iterator[bytes]:
    for item in items:
        on_wait()  # time passes while the server waits for this message
        yield item


def test_a_stream_is_cut_when_its_peer_goes_idle() -> None:
    clock, cancelled = Clock(), []
    watchdog = StallWatchdog(clock=clock)
    waits = iter([1.0, 1.0, 31.0])

    def wait() -> None:
        clock.now += next(waits)
        watchdog.sweep()

    stream = WatchedRequests(_stream([b"1", b"2", b"3"], wait), watchdog, lambda: cancelled.append(clock.now),
                             idle=30, total=900, what="push")
    assert next(stream) == b"1" and next(stream) == b"2" and cancelled == []
    next(stream)  # the fake stream still yields; a real one would have been cut by the cancel
    assert cancelled == [1033.0] and watchdog.armed() == 0


def test_a_stream_is_cut_at_its_total_deadline_however_steady() -> None:
    clock, cancelled = Clock(), []
    watchdog = StallWatchdog(clock=clock)

    def wait() -> None:
        clock.now += 20  # always within the idle deadline
        watchdog.sweep()

    stream = WatchedRequests(_stream([b"x"] * 10, wait), watchdog, lambda: cancelled.append(clock.now),
                             idle=30, total=100, what="push")
    for _ in range(4):
        next(stream)
    assert cancelled == []
    next(stream)  # this wait reaches 100 s since the call began
    assert cancelled == [1100.0]
