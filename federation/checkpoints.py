"""A party's per-job, per-stage checkpoints: opaque bytes saved after each unit every party agrees on.

A stage handler saves its own state after each completed unit (a SecureBoost tree, an LR epoch) under
`<state>/jobs/<job>/checkpoints/<stage>/<unit>.ckpt`. Files are written atomically (temporary file, fsync,
rename) with a SHA-256 over the body, so a crash leaves the previous checkpoint or the whole new one, and a
damaged file is refused rather than resumed from. The coordinator asks every party which units it holds and
resumes the stage at the largest unit all of them hold (`common_unit`).

Two units are kept: parties finish a unit at slightly different moments, so after a crash they can differ
by one (the party that saved unit n may have to go back to n - 1 if another party never reached n).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from errors import IntegrityFailure, InvalidInput
from federation.job_ids import job_dir

KEEP = 2
_MAGIC = b"xyd-ckpt-1\n"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class CheckpointDamaged(IntegrityFailure):
    """A checkpoint file does not verify (torn write, disk damage or tampering): it is never resumed from."""

    detail_is_public = True


def safe_name(value: str, what: str) -> str:
    """`value` if it can name a folder under a node's state (no separators, no `..`); else `InvalidInput`."""
    if not _SAFE_NAME.fullmatch(value) or ".." in value:
        raise InvalidInput(f"{what} {value!r} cannot name a folder: letters, digits, '.', '_' and '-' only")
    return value


def job_folder(state_dir: Path, job_id: str) -> Path:
    """`<state>/jobs/<job>`, refusing a job id that would point anywhere else (`federation.job_ids`)."""
    return job_dir(state_dir, job_id)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers (and a restarted process) see the old file or the whole new one, never part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


class CheckpointStore:
    """The checkpoints of one stage of one job at this party."""

    def __init__(self, work_dir: Path, stage: str, *, keep: int = KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.folder = work_dir / "checkpoints" / safe_name(stage, "stage")
        self._keep = keep

    def _path(self, unit: int) -> Path:
        return self.folder / f"{unit:06d}.ckpt"

    def units(self) -> list[int]:
        """The units saved here, ascending."""
        if not self.folder.is_dir():
            return []
        return sorted(int(p.stem) for p in self.folder.glob("*.ckpt") if p.stem.isdigit())

    def save(self, unit: int, state: bytes) -> None:
        """Keep `state` as unit `unit` (>= 1), then drop all but the newest `keep` units."""
        if unit < 1:
            raise ValueError("checkpoint units start at 1 (unit 0 is the stage's start)")
        body = _MAGIC + hashlib.sha256(state).digest() + state
        write_atomically(self._path(unit), body)
        for old in self.units()[:-self._keep]:
            self._path(old).unlink(missing_ok=True)

    def load(self, unit: int) -> bytes:
        """The state saved as `unit`; `CheckpointDamaged` if it is missing or does not verify."""
        try:
            body = self._path(unit).read_bytes()
        except FileNotFoundError:
            raise CheckpointDamaged(f"no checkpoint {unit} of stage {self.folder.name} here "
                                    f"(held: {self.units() or 'none'})") from None
        digest, state = body[len(_MAGIC):len(_MAGIC) + 32], body[len(_MAGIC) + 32:]
        if not body.startswith(_MAGIC) or hashlib.sha256(state).digest() != digest:
            raise CheckpointDamaged(f"checkpoint {unit} of stage {self.folder.name} is damaged")
        return state

    def truncate(self, unit: int) -> None:
        """Forget every unit after `unit`: the stage resumes from `unit` and will write them again."""
        for later in (u for u in self.units() if u > unit):
            self._path(later).unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget every checkpoint of the stage (a fresh start of the stage)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def common_unit(held: Iterable[Sequence[int]]) -> int:
    """The largest unit every party holds (0, the stage's start, when there is none)."""
    sets = [set(units) for units in held]
    if not sets:
        return 0
    shared = set.intersection(*sets)
    return max(shared, default=0)
