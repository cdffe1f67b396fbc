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
    assert reopened.mark_interrupted(now=104.0) == [job_id]
    record = reopened.get(job_id)
    assert record is not None
    assert record.state == JobState.INTERRUPTED and "restarted" in record.error
    assert record.updated_at == 104.0  # when its wait for the parties began
    assert record.stages[0].state == JobState.SUCCEEDED
    assert record.stages[0].results == {"platform/main": {"intersection": 7}}
    assert record.stages[1].state == JobState.INTERRUPTED
    # Resumable: the job and its stage run again, the stage's attempts counting on (they name mailboxes).
    reopened.set_job_state(job_id, JobState.RUNNING)
    reopened.set_stage_state(job_id, 1, JobState.RUNNING)
    assert reopened.start_attempt(job_id, 1, resumed_from=2) == 0
    assert reopened.start_attempt(job_id, 1, resumed_from=3) == 1
    stage = reopened.get(job_id).stages[1]
    assert (stage.attempts, stage.resumed_from) == (2, 3)


@pytest.mark.parametrize("final", [JobState.SUCCEEDED, JobState.CANCELLED])
def test_succeeded_and_cancelled_never_leave(tmp_path: Path, final: JobState) -> None:
    store = JobStore.sqlite(str(tmp_path / "c.db"))
    job_id = store.create("j", "", ("psi",))
    store.set_job_state(job_id, JobState.RUNNING)
    store.set_job_state(job_id, final)
    for wanted in JobState:
        with pytest.raises(IllegalTransition):
            store.set_job_state(job_id, wanted)
    with pytest.raises(IllegalTransition):
        store.set_stage_state(job_id, 0, JobState.SUCCEEDED)  # never started


def test_a_failed_job_reopens_only_to_run_again(tmp_path: Path) -> None:
    store = JobStore.sqlite(str(tmp_path / "c.db"))
    job_id = store.create("j", "", ("psi",))
    store.set_job_state(job_id, JobState.RUNNING)
    store.set_job_state(job_id, JobState.FAILED, "stage psi: source/tax: ...")
    for wanted in (JobState.SUCCEEDED, JobState.PENDING, JobState.INTERRUPTED, JobState.CANCELLED):
        with pytest.raises(IllegalTransition):
            store.set_job_state(job_id, wanted)
    store.set_job_state(job_id, JobState.RUNNING)  # an operator's resume
    assert store.get(job_id).error == ""


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlalchemy as sa

    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # the stage table as the previous version created it
        conn.exec_driver_sql("CREATE TABLE job_stages (job_id VARCHAR(64) NOT NULL, position INTEGER NOT NULL, "
                             "stage VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL, results_json TEXT NOT NULL, "
                             "error TEXT NOT NULL, started_at FLOAT, finished_at FLOAT, "
                             "PRIMARY KEY (job_id, position))")
        conn.exec_driver_sql("INSERT INTO job_stages VALUES ('job-1', 0, 'psi', 'SUCCEEDED', '{}', '', 1.0, 2.0)")
    engine.dispose()
    store = JobStore.sqlite(str(db))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT attempts, resumed_from FROM job_stages").one() == (0, 0)


def test_unknown_job_is_none(tmp_path: Path) -> None:
    assert JobStore.sqlite(str(tmp_path / "c.db")).get("job-nope") is None
