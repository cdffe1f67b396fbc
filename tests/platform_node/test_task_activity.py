"""The platform's stage activity: every progress call reaches both the coordinator's stream and the console."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from federation.tasks import TaskContext
from platform_node.task_activity import TaskActivity, observed


def _context(tmp_path: Path, job: str) -> TaskContext:
    return TaskContext(job, "train", {}, None, {}, tmp_path)  # type: ignore[arg-type]


def test_progress_is_kept_and_still_streamed(tmp_path: Path) -> None:
    activity = TaskActivity(keep_jobs=2)

    def train(ctx: TaskContext) -> dict:
        for tree in range(3):
            ctx.progress(f"tree {tree + 1}/3", (tree + 1) / 3)
        return {"trees": 3}

    def failing(ctx: TaskContext) -> dict:
        ctx.progress("starting", 0.0)
        raise RuntimeError("boom")

    handlers = observed({"train": train, "evaluate": failing}, activity)
    ctx = _context(tmp_path, "job-1")
    assert handlers["train"](ctx) == {"trees": 3}
    streamed = []
    while True:
        try:
            streamed.append(ctx._events.get_nowait().progress.message)
        except queue.Empty:
            break
    assert streamed == ["tree 1/3", "tree 2/3", "tree 3/3"]
    with pytest.raises(RuntimeError):
        handlers["evaluate"](_context(tmp_path, "job-1"))
    [(job, stages)] = activity.jobs()
    assert job == "job-1"
    assert [(s.stage, s.state, s.message) for s in stages] == [("train", "SUCCEEDED", "tree 3/3"),
                                                              ("evaluate", "FAILED", "starting")]
    assert [m for _, m, _ in stages[0].events] == streamed
    for n in (2, 3):
        handlers["train"](_context(tmp_path, f"job-{n}"))
    assert [job for job, _ in activity.jobs()] == ["job-3", "job-2"]  # newest first, bounded
