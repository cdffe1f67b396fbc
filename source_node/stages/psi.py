"""The source node's side of the PSI stage: follow the platform's lead, keep the intersection at home."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from federation.compute import ComputeSettings
from federation.job_files import write_intersection
from federation.psi import psi_compute, run_psi_follower
from federation.tasks import TaskContext
from jobspec import Stage, StageParams
from jobspec import tags as tag


def make_psi_handler(ids: Sequence[str], compute: ComputeSettings | None = None):
    """A PSI stage handler over this node's id column; the result holds sizes only. Hashing and blinding run
    where `[compute]` says (this machine, or the node's own Ray cluster)."""
    compute = compute or ComputeSettings()

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        leader = job.roster.active
        ctx.progress(f"PSI with {leader}: {len(ids)} local ids", 0.0)
        with psi_compute(compute) as kernels:
            result = run_psi_follower(
                ctx.channel.scoped(tag.scope(Stage.PSI)), leader, ids,
                reveal_to_me=job.psi.passive_learns, reveal_to_peer=job.psi.active_learns,
                batch_size=job.psi.batch_size,
                progress=ctx.progress, compute=kernels,
            )
        if result.intersection is not None:
            write_intersection(ctx.work_dir, result.intersection)
        return {"local_rows": len(ids), "intersection": result.size,
                "learned_intersection": result.intersection is not None}

    return handle
