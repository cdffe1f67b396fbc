"""The coordinator as the hetero-LR arbiter of a job's train stage, in a thread of the coordinator process.

The arbiter holds the CKKS secret key of one training run and only ever decrypts masked sums
(docs/protocols/hetero_lr.md). Its messages travel over the coordinator's own NodeServer mailboxes, in the
same per-stage session the parties derive (`federation.job_ids.stage_session`).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.checkpoints import CheckpointStore
from federation.grpc_channel import GrpcChannel, PeerChannels
from federation.job_ids import job_dir, stage_session
from federation.pki import NodeTls
from federation.server import NodeServer
from jobspec import Stage, StageParams
from jobspec.tags import scope
from models.hetero_lr import PLAN_ERRORS, ArbiterPolicy, run_arbiter

log = logging.getLogger("xyd.jobs.arbiter")


@dataclass(frozen=True)
class ArbiterOutcome:
    """How the arbiter's part of a stage ended: epochs served, or the error that stopped it."""

    epochs: int = 0
    error: str = ""


class ArbiterRun:
    """One running arbiter; `finish` waits for it, or wakes it by closing its mailbox."""

    def __init__(self, thread: threading.Thread, outcome: dict[str, ArbiterOutcome], close: Any) -> None:
        self._thread = thread
        self._outcome = outcome
        self._close = close

    def finish(self, *, abort: bool, timeout: float = 30.0) -> ArbiterOutcome:
        """The arbiter's outcome; with `abort` (a party failed) its mailbox is closed first so it stops."""
        if abort:
            self._close()
        self._thread.join(timeout)
        self._close()
        if self._thread.is_alive():
            return ArbiterOutcome(error="the arbiter did not stop in time")
        return self._outcome.get("result", ArbiterOutcome(error="the arbiter ended without a result"))


class ArbiterHost:
    """Runs arbiters for train stages using the coordinator's certificate and mailbox server."""

    def __init__(self, tls: NodeTls, server: NodeServer, *, policy: ArbiterPolicy | None = None,
                 timeout: float = 600.0, state_dir: Path | None = None) -> None:
        self.tls = tls
        self._state_dir = state_dir
        self.party = tls.identity.party
        self._server = server
        self._channels = PeerChannels(tls)
        self._policy = policy or ArbiterPolicy()
        self._timeout = timeout

    def checkpoints(self, job_id: str, stage: Stage) -> CheckpointStore | None:
        """The arbiter's epoch checkpoints of a job's stage (None: this host keeps none, so no stage it
        serves can resume past its start)."""
        if self._state_dir is None:
            return None
        return CheckpointStore(job_dir(self._state_dir, job_id), stage)

    def remove_job(self, job_id: str) -> tuple[int, int]:
        """Remove the arbiter's folder of a job (its epoch checkpoints); (files, bytes) removed."""
        if self._state_dir is None:
            return 0, 0
        folder = job_dir(self._state_dir, job_id)
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        size = sum(p.stat().st_size for p in files)
        shutil.rmtree(folder, ignore_errors=True)
        return len(files), size

    def units(self, job_id: str, stage: Stage) -> list[int]:
        """The epochs the arbiter holds a checkpoint of, ascending."""
        store = self.checkpoints(job_id, stage)
        return store.units() if store is not None else []

    @property
    def address(self) -> str:
        """Where the parties dial the arbiter: the coordinator's advertised address."""
        return self._server.advertised_address

    def start(self, job_id: str, stage: Stage, params: Mapping[str, Any], peers: Mapping[str, str], *,
              max_message_bytes: int = 0, attempt: int = 0, resume_from: int = 0) -> ArbiterRun:
        """Start serving as arbiter between the roster's active party (guest) and its passive ones (hosts),
        in the mailbox of this attempt of the stage.

        Its mailbox accepts the stage's parties only, and messages up to `max_message_bytes` (0: the default).
        With `resume_from` it continues after that epoch, from its own checkpoint (the runner chose a unit it
        holds); later checkpoints are dropped.
        """
        store = self.checkpoints(job_id, stage)
        resume = None
        if store is not None:
            resume = store.load(resume_from) if resume_from else None
            store.truncate(resume_from)
        elif resume_from:
            raise ValueError("this arbiter keeps no checkpoints")
        session = stage_session(job_id, stage, attempt)
        mailbox = self._server.mailboxes.open(session, set(peers) - {self.party},
                                              max_message_bytes=max_message_bytes or None)
        channel = GrpcChannel(self.party, session, dict(peers), self.tls, mailbox, channels=self._channels)
        outcome: dict[str, ArbiterOutcome] = {}
        settings = StageParams.parse(params)
        timeout = settings.train.timeout_seconds if settings.train else self._timeout

        def work() -> None:
            try:
                epochs = run_arbiter(channel.scoped(scope(stage)), settings.roster.active, list(settings.roster.passive),
                                     policy=self._policy, timeout=timeout, resume=resume,
                                     on_checkpoint=store.save if store is not None else None)
                outcome["result"] = ArbiterOutcome(epochs=epochs)
            except PLAN_ERRORS as exc:
                outcome["result"] = ArbiterOutcome(error=f"refused: {exc}")
            except Exception as exc:  # a closed mailbox or a dead peer: the stage reports it
                log.warning("arbiter stopped", extra={"job": job_id, "error": f"{type(exc).__name__}: {exc}"})
                outcome["result"] = ArbiterOutcome(error=f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=work, name=f"arbiter-{job_id}", daemon=True)
        thread.start()
        return ArbiterRun(thread, outcome, lambda: self._server.mailboxes.close_job(session))

    def close(self) -> None:
        self._channels.close()
