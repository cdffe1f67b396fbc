"""What a node keeps on disk per job: the PSI intersection it learned and the model parts it published.

One naming convention for every role: `<state>/jobs/<job>/psi-intersection[-<peer>].txt` and
`<state>/models/<model id>/<part file>` with `part.sha256` beside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from federation import job_ids
from federation.tasks import TaskFailed


def intersection_path(work_dir: Path, peer: str | None = None) -> Path:
    """The intersection file of a job; the active party keeps one per peer, a passive party one in all."""
    suffix = "" if peer is None else "-" + peer.replace("/", "_")
    return work_dir / f"psi-intersection{suffix}.txt"


def write_intersection(work_dir: Path, ids: Iterable[str], peer: str | None = None) -> None:
    """Keep this party's own ids in the intersection, for the job's later stages."""
    intersection_path(work_dir, peer).write_text("\n".join(ids), encoding="utf-8")


def read_intersection(work_dir: Path, peer: str | None = None) -> list[str]:
    """The intersection this party learned in the job's PSI stage, sorted (the order both parties share)."""
    path = intersection_path(work_dir, peer)
    if not path.exists():
        with_whom = f" with {peer}" if peer else ""
        raise TaskFailed("NO_INTERSECTION", f"no PSI intersection{with_whom} in this job: the psi stage must run "
                                            "first with reveal = \"both\"")
    text = path.read_text(encoding="utf-8")
    return sorted(text.split()) if text else []


def model_dir(work_dir: Path, model_id: str) -> Path:
    """Where a published model part of this node lives (`<state>/models/<model id>`), checked to stay there."""
    return job_ids.model_dir(work_dir.parent.parent, model_id)


def record_part(folder: Path, name: str, digest: str) -> dict[str, Any]:
    """Write `part.sha256` beside a stored part; returns the figures the coordinator's registry records."""
    (folder / "part.sha256").write_text(f"{digest}  {name}\n")
    return {"model_id": folder.name, "part_sha256": digest, "bytes": (folder / name).stat().st_size}


def store_part(work_dir: Path, model_id: str, name: str, data: bytes) -> dict[str, Any]:
    """Store a serialised model part under models/<model id>/ with its sha256."""
    folder = model_dir(work_dir, model_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return record_part(folder, name, hashlib.sha256(data).hexdigest())
