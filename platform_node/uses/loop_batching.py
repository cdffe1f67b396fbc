"""Handing the uses of one event-loop iteration to the group-commit writer together.

Requests answered by one shared fan-out resume in the same loop iteration; submitted one by one, the first
would wake the writer alone and the rest would wait for the next transaction. Gathered until the end of
the iteration, they go to the writer in one hand-off and commit together.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

from platform_node.uses.group_commit import GroupCommitRecorder, PendingUses
from platform_node.uses.records import RecordedUse


class LoopBatchedRecorder:
    """`GroupCommitRecorder.submit` for coroutines of one event loop, batched per loop iteration."""

    def __init__(self, recorder: GroupCommitRecorder) -> None:
        self._recorder = recorder
        self._pending: list[tuple[PendingUses, asyncio.Future]] = []

    async def record(self, pending: PendingUses) -> list[RecordedUse]:
        """The uses' receipts once committed; raises what `GroupCommitRecorder.submit`'s future raises."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush, loop)  # after the coroutines resumed in this iteration
        self._pending.append((pending, waiter))
        return await waiter

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        try:
            futures = self._recorder.submit_many([pending for pending, _ in batch])
        except Exception as failure:  # the recorder is closed
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(failure)
            return
        for (_, waiter), future in zip(batch, futures, strict=True):
            future.add_done_callback(lambda done, waiter=waiter: loop.call_soon_threadsafe(_copy, done, waiter))


def _copy(done: Future, waiter: asyncio.Future) -> None:
    if waiter.done():  # the request was cancelled (its client went away); its uses are recorded anyway
        return
    failure = done.exception()
    if failure is not None:
        waiter.set_exception(failure)
    else:
        waiter.set_result(done.result())
