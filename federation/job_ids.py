"""Job ids, stage sessions and the per-job paths built from them: one strict pattern, checked everywhere.

A job id reaches a node from the network (a `RunTask` request, a mailbox header) and becomes part of folder
and model names, so it is checked against one pattern wherever it enters, and every per-job path is
resolved and refused unless it stays inside the folder it belongs to.
"""

from __future__ import annotations

import re
from pathlib import Path

from errors import InvalidInput

# The coordinator's ids (`job-20250101-120000-a1b2c3`) match; so do the short ids tests and benchmarks use.
# No dot, slash or backslash, so an id is one path component and never `.` or `..`.
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Stage names as `jobspec` knows them (psi, binning, train, evaluate, publish).
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Model ids name a folder under <state>/models: a prefix and a job id (`sb-<job id>`).
MODEL_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class InvalidJobId(InvalidInput):
    """A job id, stage, session or model id does not match its pattern, or a path would leave its folder."""


def check_job_id(job_id: str) -> str:
    """`job_id` itself; raise `InvalidJobId` unless it matches `JOB_ID_PATTERN`."""
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidJobId("the job id is not of the form [A-Za-z0-9][A-Za-z0-9_-]{0,63}")
    return job_id


def check_stage(stage: str) -> str:
    """`stage` itself; raise `InvalidJobId` unless it matches `STAGE_PATTERN`."""
    if not isinstance(stage, str) or not STAGE_PATTERN.fullmatch(stage):
        raise InvalidJobId("the stage name is not of the form [a-z][a-z0-9_]{0,31}")
    return stage


def stage_session(job_id: str, stage: str, attempt: int = 0) -> str:
    """The transport session of one attempt of one stage of a job (`<job id>.<stage>`, then `.<attempt>` when
    the stage was resumed): every party derives the same name, and each attempt has mailboxes of its own."""
    session = f"{check_job_id(job_id)}.{check_stage(stage)}"
    if attempt:
        if not isinstance(attempt, int) or not 0 < attempt < 10_000:
            raise InvalidJobId("the attempt is not a number in 1..9999")
        session += f".{attempt}"
    return session


def check_session(session: str) -> str:
    """`session` itself: a job id, optionally followed by `.<stage>` and `.<attempt>`; raise `InvalidJobId`
    otherwise."""
    if not isinstance(session, str):
        raise InvalidJobId("the session is not a string")
    job_id, *rest = session.split(".")
    check_job_id(job_id)
    if len(rest) > 2:
        raise InvalidJobId("the session has too many parts")
    if rest:
        check_stage(rest[0])
    if len(rest) == 2 and not (rest[1].isdigit() and 0 < int(rest[1]) < 10_000 and rest[1][0] != "0"):
        raise InvalidJobId("the session's attempt is not a number in 1..9999")
    return session


def check_model_id(model_id: str) -> str:
    """`model_id` itself; raise `InvalidJobId` unless it matches `MODEL_ID_PATTERN`."""
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.fullmatch(model_id):
        raise InvalidJobId("the model id is not of the form [A-Za-z0-9][A-Za-z0-9_-]{0,127}")
    return model_id


def inside(folder: Path, name: str) -> Path:
    """`folder / name` resolved; raise `InvalidJobId` unless it lies strictly inside `folder` (resolved).

    The pattern checks already keep ids to one plain path component; this is the second line, which also
    catches a symbolic link planted inside the folder.
    """
    base = folder.resolve()
    path = (base / name).resolve()
    if path == base or not path.is_relative_to(base):
        raise InvalidJobId("the path would leave its folder")
    return path


def job_dir(state_dir: Path, job_id: str) -> Path:
    """The work folder of a job at a node, `<state>/jobs/<job id>` (not created here)."""
    return inside(state_dir / "jobs", check_job_id(job_id))


def model_dir(state_dir: Path, model_id: str) -> Path:
    """The folder of a published model part at a node, `<state>/models/<model id>` (not created here)."""
    return inside(state_dir / "models", check_model_id(model_id))
