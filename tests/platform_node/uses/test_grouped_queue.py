"""GroupedQueue: every item handled exactly once, in groups, with several lingering workers."""

from __future__ import annotations

import threading
from collections import deque

import pytest

from platform_node.uses.grouped_queue import GroupedQueue


def test_lingering_workers_hand_every_item_to_exactly_one_group(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[list[int]] = []
    empty_takes: list[int] = []
    lock = threading.Lock()

    def handle(group: list[int]) -> None:
        with lock:
            handled.append(group)

    def take_all(queue: deque[int]) -> list[int]:
        if not queue:
            empty_takes.append(1)  # the contract: take is only ever given a non-empty queue
        group = list(queue)
        queue.clear()
        return group

    queue: GroupedQueue[int] = GroupedQueue(handle, take_all, workers=3, linger_s=0.005, name="test-queue")
    start = threading.Barrier(8)

    def producer(base: int) -> None:
        start.wait()
        for i in range(50):
            queue.put(base * 1000 + i)

    producers = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in producers:
        t.start()
    for t in producers:
        t.join(timeout=30)
    queue.close()
    items = sorted(i for group in handled for i in group)
    assert items == sorted(n * 1000 + i for n in range(8) for i in range(50))
    assert len(handled) < 400  # lingering put several items in most groups
    assert "handler failed" not in caplog.text and not empty_takes
    with pytest.raises(RuntimeError):
        queue.put(1)
