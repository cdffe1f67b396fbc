"""Job ids, stage sessions and model ids: one strict pattern each, and per-job paths that stay in their folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.job_files import model_dir as part_dir
from federation.job_ids import (
    InvalidJobId,
    check_job_id,
    check_session,
    inside,
    job_dir,
    model_dir,
    stage_session,
)

HOSTILE = ["", ".", "..", "../x", "../../../../somewhere", "/tmp/x", "a/b", "a\\b", "job-1/../../x", "a.b",
           "-leading-dash", "x" * 65, "job\x00", "job\n", "ジョブ", " job", "job "]


def test_the_coordinators_ids_and_test_ids_are_accepted() -> None:
    for job_id in ("job-20250101-120000-a1b2c3", "j-bad", "bench-psi", "job_1", "J" * 64):
        assert check_job_id(job_id) == job_id
    assert stage_session("job-20250101-120000-a1b2c3", "psi") == "job-20250101-120000-a1b2c3.psi"
    assert check_session("job-1.train") == "job-1.train" and check_session("job-1") == "job-1"


@pytest.mark.parametrize("job_id", HOSTILE)
def test_hostile_job_ids_are_refused_everywhere(job_id: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidJobId):
        check_job_id(job_id)
    with pytest.raises(InvalidJobId):
        job_dir(tmp_path, job_id)
    with pytest.raises(InvalidJobId):
        check_session(f"{job_id}.psi")
    with pytest.raises(InvalidJobId):
        stage_session(job_id, "psi")


@pytest.mark.parametrize("stage", ["", "../psi", "PSI", "psi.x", "psi/x", "a" * 33])
def test_hostile_stages_are_refused(stage: str) -> None:
    with pytest.raises(InvalidJobId):
        stage_session("job-1", stage)
    with pytest.raises(InvalidJobId):
        check_session(f"job-1.{stage}")


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=80))
def test_any_accepted_id_names_a_folder_inside_the_state_dir(name: str, tmp_path_factory) -> None:
    state = tmp_path_factory.getbasetemp() / "state"
    jobs, models = (state / "jobs").resolve(), (state / "models").resolve()
    try:
        folder = job_dir(state, name)
    except InvalidJobId:
        pass
    else:
        assert folder.parent == jobs and folder.name == name
    try:
        folder = model_dir(state, name)
    except InvalidJobId:
        pass
    else:
        assert folder.parent == models


def test_a_symbolic_link_inside_the_folder_cannot_lead_out(tmp_path: Path) -> None:
    (tmp_path / "state" / "jobs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state" / "jobs" / "job-1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidJobId):
        job_dir(tmp_path / "state", "job-1")
    with pytest.raises(InvalidJobId):
        inside(tmp_path, ".")


def test_published_parts_stay_under_models(tmp_path: Path) -> None:
    work = tmp_path / "state" / "jobs" / "job-1"
    assert part_dir(work, "sb-job-1") == (tmp_path / "state" / "models" / "sb-job-1").resolve()
    for bad in ("../x", "sb-job-1/../../x", ""):
        with pytest.raises(InvalidJobId):
            part_dir(work, bad)
