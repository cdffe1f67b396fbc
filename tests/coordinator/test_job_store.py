"""Job state is persisted, moves only along allowed transitions, and survives a restart."""

from pathlib import Path

import pytest

from coordinator.jobs.store import IllegalTransition, JobState, JobStore


def test_job_progress_survives_reopening_the_database(tmp_path: Path) -> None:
    db = tmp_path / "coordinator.db"
    store = JobStore.sqlite(str(db))
    job_id = store.create("j", "[job]", ("psi", "train"), now=100.0)
    store.set_job_state(job_id, JobState.RUNNING, now=101.0)
    store.set_stage_state(job_id, 0, JobState.RUNNING, now=101.0)
    store.set_stage_state(job_id, 0, JobState.SUCCEEDED, results={"platform/main": {"intersection": 7}}, now=102.0)
    store.set_stage_state(job_id, 1, JobState.RUNNING, now=103.0)
    store.engine.dispose()

    reopened = JobStore.sqlite(str(db))  # as after a coordinator restart
    assert reopened.fail_interrupted() == [job_id]
    record = reopened.get(job_id)
    assert record is not None
    assert record.state == JobState.FAILED and "restarted" in record.error
    assert record.stages[0].state == JobState.SUCCEEDED
    assert record.stages[0].results == {"platform/main": {"intersection": 7}}
    assert record.stages[1].state == JobState.FAILED


def test_terminal_states_never_leave(tmp_path: Path) -> None:
    store = JobStore.sqlite(str(tmp_path / "c.db"))
    job_id = store.create("j", "", ("psi",))
    store.set_job_state(job_id, JobState.RUNNING)
    store.set_job_state(job_id, JobState.SUCCEEDED)
    for wanted in (JobState.RUNNING, JobState.FAILED, JobState.PENDING):
        with pytest.raises(IllegalTransition):
            store.set_job_state(job_id, wanted)
    with pytest.raises(IllegalTransition):
        store.set_stage_state(job_id, 0, JobState.SUCCEEDED)  # never started


def test_unknown_job_is_none(tmp_path: Path) -> None:
    assert JobStore.sqlite(str(tmp_path / "c.db")).get("job-nope") is None
