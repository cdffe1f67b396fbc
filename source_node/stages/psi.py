"""The source node's side of the PSI stage: follow the platform's lead, keep the intersection at home.

Each finished round is journalled in the job folder and checkpointed, so a stage resumed after a crash
continues at the next round with the same secret; the journal is removed when the stage succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from federation.checkpoints import CheckpointStore
from federation.job_files import write_intersection
from federation.psi import run_psi_follower
from federation.psi.journal import journal_for, remove_journals
from federation.tasks import TaskContext
from jobspec import Stage, StageParams
from jobspec import tags as tag

# A PSI checkpoint is a few bytes (the rounds live in the journal): keep every one, so whichever round the
# other parties reached last is still held here.
KEEP_ALL = 1 << 30


def make_psi_handler(ids: Sequence[str]):
    """A PSI stage handler over this node's id column; the result holds sizes only."""

    def handle(ctx: TaskContext) -> dict[str, Any]:
        job = StageParams.parse(ctx.params)
        leader = job.roster.active
        store = CheckpointStore(ctx.work_dir, ctx.stage, keep=KEEP_ALL)
        journal = journal_for(ctx.work_dir, "leader")
        ctx.progress(f"PSI with {leader}: {len(ids)} local ids"
                     + (f", resuming after round {ctx.resume_from}" if ctx.resume_from else ""), 0.0)
        result = run_psi_follower(
            ctx.channel.scoped(tag.scope(Stage.PSI)), leader, ids,
            reveal_to_me=job.psi.passive_learns, reveal_to_peer=job.psi.active_learns,
            batch_size=job.psi.batch_size,
            progress=ctx.progress, journal=journal, resume_from=ctx.resume_from,
            on_round=lambda rounds: store.save(rounds, json.dumps({"rounds": rounds}).encode()),
        )
        if result.intersection is not None:
            write_intersection(ctx.work_dir, result.intersection)
        remove_journals(ctx.work_dir)  # the secret scalar goes with it
        store.clear()
        return {"local_rows": len(ids), "intersection": result.size,
                "learned_intersection": result.intersection is not None, "resumed_from_round": ctx.resume_from}

    return handle
