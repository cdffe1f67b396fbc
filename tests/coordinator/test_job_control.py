"""Job control's rules at the coordinator: which states may be cancelled, resumed, retried or cleaned up, and
what happens to jobs a restart interrupted (resumed when every party answers, failed after the wait).
The runner is a recorder here: running real parties is tests/integration/test_resume.py's job."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from coordinator.jobs.control import JobControl
from coordinator.jobs.store import JobState, JobStore
from errors import Conflict, NotFound
from jobspec.spec import parse_job_spec

SPEC = """
[job]
name = "j"
stages = ["psi"]
[parties]
active = "platform/main"
passive = ["source/tax"]
[psi]
reveal = "both"
"""


class Answers:
    def __init__(self) -> None:
        self.missing: dict[str, str] = {}

    def check_all(self, parties) -> dict[str, str]:
        return {p: self.missing.get(p, "") for p in parties}


class RecordingRunner:
    """Records the runs it is asked for; each run waits until the test releases it."""

    resume_wait = 60.0

    def __init__(self) -> None:
        self.liveness = Answers()
        self.runs: list[tuple[str, bool]] = []
        self.release = threading.Event()

    def run(self, job_id: str, spec, *, resume: bool = False) -> None:
        self.runs.append((job_id, resume))
        self.release.wait(10)

    def cancel(self, job_id: str) -> bool:
        return False


@pytest.fixture
def setup(tmp_path: Path):
    store = JobStore.sqlite(str(tmp_path / "c.db"))
    runner = RecordingRunner()
    now = [1000.0]
    control = JobControl(store, runner, clock=lambda: now[0])  # type: ignore[arg-type]
    yield store, runner, control, now
    runner.release.set()


def _interrupted(store: JobStore, at: float) -> str:
    job_id = store.create("j", SPEC, ("psi",), now=at)
    store.set_job_state(job_id, JobState.RUNNING, now=at)
    store.set_stage_state(job_id, 0, JobState.RUNNING, now=at)
    assert store.mark_interrupted(now=at) == [job_id]
    return job_id


def test_an_interrupted_job_resumes_once_every_party_answers(setup) -> None:
    store, runner, control, _ = setup
    job_id = _interrupted(store, 1000.0)
    runner.liveness.missing = {"source/tax": "connection refused"}
    assert control.resume_interrupted() == [] and runner.runs == []
    runner.liveness.missing = {}
    assert control.resume_interrupted() == [job_id]
    assert control.resume_interrupted() == []  # already running: not launched twice
    assert runner.runs == [(job_id, True)]
    with pytest.raises(Conflict, match="already running"):
        control.resume(job_id)


def test_an_interrupted_job_whose_party_never_answers_fails_after_the_wait(setup) -> None:
    store, runner, control, now = setup
    job_id = _interrupted(store, 1000.0)
    runner.liveness.missing = {"source/tax": "connection refused"}
    now[0] = 1000.0 + runner.resume_wait + 1
    assert control.resume_interrupted() == []
    record = store.get(job_id)
    assert record.state == JobState.FAILED and record.stages[0].state == JobState.FAILED
    assert "not answering after 60 s: source/tax (connection refused)" in record.error
    assert f"xyd job resume {job_id}" in record.error
    control.resume(job_id)  # an operator may still resume it once the party is back
    assert runner.runs == [(job_id, True)]


def test_cancel_retry_and_cleanup_only_where_they_make_sense(setup) -> None:
    store, runner, control, _ = setup
    job_id = _interrupted(store, 1000.0)
    with pytest.raises(Conflict, match="only a failed or cancelled job can be retried"):
        control.retry(job_id)
    with pytest.raises(Conflict, match="only a failed or cancelled job's files"):
        control.cleanup(job_id)
    cancelled = control.cancel(job_id)
    assert cancelled.state == JobState.CANCELLED and cancelled.stages[0].state == JobState.CANCELLED
    for action in (control.cancel, control.resume):
        with pytest.raises(Conflict):
            action(job_id)
    new_id = control.retry(job_id)
    assert new_id != job_id and store.get(new_id).spec_toml == SPEC
    assert runner.runs == [(new_id, False)]
    with pytest.raises(NotFound):
        control.cancel("job-none")
    assert parse_job_spec(store.get(new_id).spec_toml).parties == ("platform/main", "source/tax")
