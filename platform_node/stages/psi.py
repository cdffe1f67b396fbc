"""The platform's side of the PSI stage: lead one intersection per source node, in parallel.

Each pair journals its finished rounds in the job folder (`federation.psi.journal`); the platform's
checkpoint unit is the round every pair has reached, so a resumed stage continues every pair there. The
journals are removed when the stage succeeds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from federation.checkpoints import CheckpointStore
from federation.job_files import write_intersection
from federation.psi import run_psi_leader
from federation.psi.journal import journal_for, remove_journals
from federation.tasks import TaskContext
from jobspec import Stage, StageParams
from jobspec import tags as tag

KEEP_ALL = 1 << 30  # a PSI checkpoint is a few bytes: keep every round a source may have stopped at
_FINISHED = 1 << 62


def make_psi_handler(ids: Sequence[str]):
    """A PSI stage handler: one leader run per passive party; results are sizes and timings only."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        passive = list(job.roster.passive)
        channel = ctx.channel.scoped(tag.scope(Stage.PSI))
        store = CheckpointStore(ctx.work_dir, ctx.stage, keep=KEEP_ALL)
        journals = {peer: journal_for(ctx.work_dir, peer) for peer in passive}
        rounds = dict.fromkeys(passive, ctx.resume_from)
        saved = [ctx.resume_from]
        lock = threading.Lock()

        def reached(peer: str, done: int) -> None:
            with lock:
                rounds[peer] = done
                common = min(rounds.values())
                if saved[0] < common < _FINISHED:
                    store.save(common, json.dumps({"rounds": common}).encode())
                    saved[0] = common

        def one(peer: str) -> tuple[str, dict[str, Any]]:
            started = time.monotonic()

            def progress(message: str, fraction: float = -1.0) -> None:
                ctx.progress(f"{peer}: {message}", fraction)

            result = run_psi_leader(channel, peer, ids, reveal_to_peer=job.psi.passive_learns,
                                    reveal_to_me=job.psi.active_learns, batch_size=job.psi.batch_size,
                                    progress=progress, journal=journals[peer], resume_from=ctx.resume_from,
                                    on_round=lambda done: reached(peer, done))
            reached(peer, _FINISHED)
            if result.intersection is not None:
                write_intersection(ctx.work_dir, result.intersection, peer)
            return peer, {"intersection": result.size, "seconds": round(time.monotonic() - started, 3),
                          "learned_intersection": result.intersection is not None}

        ctx.progress(f"PSI with {len(passive)} source nodes over {len(ids)} local ids"
                     + (f", resuming after round {ctx.resume_from}" if ctx.resume_from else ""), 0.0)
        with ThreadPoolExecutor(max_workers=max(1, min(len(passive), 4))) as pool:
            per_peer = dict(pool.map(one, passive))
        remove_journals(ctx.work_dir)  # the secret scalars go with them
        store.clear()
        return {"local_rows": len(ids), "per_peer": per_peer, "resumed_from_round": ctx.resume_from}

    return handle
