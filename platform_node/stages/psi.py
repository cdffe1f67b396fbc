"""The platform's side of the PSI stage: lead one intersection per source node, in parallel."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from federation.compute import ComputeSettings
from federation.job_files import write_intersection
from federation.psi import PsiCompute, psi_compute, run_psi_leader
from federation.tasks import TaskContext
from jobspec import Stage, StageParams
from jobspec import tags as tag


def make_psi_handler(ids: Sequence[str], compute: ComputeSettings | None = None):
    """A PSI stage handler: one leader run per passive party; results are sizes and timings only. Hashing and
    blinding run where `[compute]` says (this machine, or the platform's own Ray cluster, shared by the runs)."""
    compute = compute or ComputeSettings()

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        passive = list(job.roster.passive)
        channel = ctx.channel.scoped(tag.scope(Stage.PSI))

        def one(peer: str, kernels: PsiCompute) -> tuple[str, dict[str, Any]]:
            started = time.monotonic()

            def progress(message: str, fraction: float = -1.0) -> None:
                ctx.progress(f"{peer}: {message}", fraction)

            result = run_psi_leader(channel, peer, ids, reveal_to_peer=job.psi.passive_learns,
                                    reveal_to_me=job.psi.active_learns, batch_size=job.psi.batch_size,
                                    progress=progress, compute=kernels)
            if result.intersection is not None:
                write_intersection(ctx.work_dir, result.intersection, peer)
            return peer, {"intersection": result.size, "seconds": round(time.monotonic() - started, 3),
                          "learned_intersection": result.intersection is not None}

        ctx.progress(f"PSI with {len(passive)} source nodes over {len(ids)} local ids", 0.0)
        with psi_compute(compute) as kernels, ThreadPoolExecutor(max_workers=max(1, min(len(passive), 4))) as pool:
            per_peer = dict(pool.map(lambda peer: one(peer, kernels), passive))
        return {"local_rows": len(ids), "per_peer": per_peer}

    return handle
