"""The bank API's scorer: whatever SecureBoost model or scorecard the federation published last, scored
federatedly.

Looks for the newest published part under `<state_dir>/models/`, asks the coordinator where the model's
source nodes listen, and delegates to a `FederatedSecureBoostScorer` or a `FederatedScorecardScorer`;
before any model is published every enterprise gets MODEL_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels, open_secure_channel
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc
from models.scorecard.stored import read_part
from models.secureboost import ActiveModel
from platform_node.scoring.availability import AvailabilityPolicy
from platform_node.scoring.privacy import PrivacySettings
from platform_node.scoring.scorecard import FederatedScorecardScorer
from platform_node.scoring.scorer import FailureCode, ScoreBatch, ScoreFailure
from platform_node.scoring.secureboost import FederatedSecureBoostScorer, SourceEndpoint
from platform_node.usage_reporting import AnswerCounter
from tables import LoadedTable

log = logging.getLogger("xyd.platform.scoring")
PART = "secureboost-active.bin"
SCORECARD_PART = "scorecard-part.bin"


class PublishedModelScorer:
    """A `Scorer` that follows the latest published model.

    The models folder is scanned again when its modification time changes (a model published into a new
    folder) and at least once a second (a part written into a folder after it was created)."""

    RESCAN_S = 1.0

    def __init__(self, *, models_dir: Path, own_table: LoadedTable, label_column: str, tls: NodeTls,
                 coordinator: str, usage: AnswerCounter | None = None,
                 availability: AvailabilityPolicy | None = None, privacy: PrivacySettings | None = None) -> None:
        self._privacy = privacy  # direct, precomputed or cover queries to the sources
        self._availability = availability  # per purpose: refuse or degrade when a source does not answer
        self._usage = usage  # counts each source's answers for the governance log
        self._models_dir = models_dir
        self._own = own_table
        self._label = label_column
        self._tls = tls
        self._coordinator = coordinator
        self._channels = PeerChannels(tls)
        self._aio_channels = AioPeerChannels(tls)
        self._current: tuple[str, FederatedSecureBoostScorer | FederatedScorecardScorer] | None = None
        self._lock = threading.Lock()
        self._scanned: tuple[int, float, Path | None] | None = None   # (folder mtime, when, latest)

    def _latest(self) -> Path | None:
        try:
            changed = self._models_dir.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        now = time.monotonic()
        scanned = self._scanned
        if scanned is not None and scanned[0] == changed and now - scanned[1] < self.RESCAN_S:
            return scanned[2]
        parts = [*self._models_dir.glob(f"*/{PART}"), *self._models_dir.glob(f"*/{SCORECARD_PART}")]
        latest = max(parts, key=lambda p: p.stat().st_mtime).parent if parts else None
        self._scanned = (changed, now, latest)
        return latest

    def _roster(self) -> dict[str, control_pb2.NodeInfo]:
        channel = open_secure_channel(self._coordinator, self._tls, Identity("coordinator", "main"))
        try:
            nodes = control_pb2_grpc.CoordinatorStub(channel).ListNodes(control_pb2.ListNodesRequest(), timeout=5.0)
        finally:
            channel.close()
        return {n.party: n for n in nodes.nodes}

    def _endpoints(self, parties) -> list[SourceEndpoint]:
        roster = self._roster()
        return [SourceEndpoint(p, roster[p].address, roster[p].description.tables[0].name
                               if roster[p].description.tables else p.split("/")[1])
                for p in parties if p in roster]

    def _scorecard(self, folder: Path) -> FederatedScorecardScorer:
        data = (folder / SCORECARD_PART).read_bytes()
        part = read_part(folder / SCORECARD_PART, "scorecard")
        return FederatedScorecardScorer(model_id=folder.name, model_version="v" + hashlib.sha256(data).hexdigest()[:12],
                                        part=part, own_table=self._own, label_column=self._label,
                                        sources=self._endpoints(part.hosts), channels=self._channels,
                                        aio_channels=self._aio_channels, privacy=self._privacy, state_dir=folder)

    def _scorer(self) -> FederatedSecureBoostScorer | FederatedScorecardScorer | None:
        folder = self._latest()
        if folder is None:
            return None
        with self._lock:
            if self._current is not None and self._current[0] == folder.name:
                return self._current[1]
            if (folder / SCORECARD_PART).exists():
                scorer = self._scorecard(folder)
            else:
                data = (folder / PART).read_bytes()
                model = ActiveModel.from_bytes(data)
                scorer = FederatedSecureBoostScorer(
                    model_id=folder.name, model_version="v" + hashlib.sha256(data).hexdigest()[:12], model=model,
                    own_table=self._own, label_column=self._label, sources=self._endpoints(model.parties),
                    channels=self._channels, aio_channels=self._aio_channels, availability=self._availability,
                    defaults_dir=folder, privacy=self._privacy)
            scorer.usage = self._usage
            if self._current is not None:
                self._current[1].close()
            self._current = (folder.name, scorer)
            log.info("scoring with published model", extra={"model": folder.name})
            return scorer

    def serving(self) -> tuple[str, str] | None:
        """The id and version of the joint model scores come from now; None if none is usable."""
        try:
            scorer = self._scorer()
        except Exception:  # the same failures `score` turns into MODEL_UNAVAILABLE
            return None
        return None if scorer is None else (scorer.model_id, scorer.model_version)

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = ""
              ) -> ScoreBatch:
        scorer = self._usable()
        if scorer is None:
            return _unavailable(credit_codes)
        return scorer.score(credit_codes, purpose=purpose, deadline_s=deadline_s, requester=requester)

    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                          requester: str = "") -> ScoreBatch:
        """`score` from the event loop of the bank API: the fan-out runs on the loop over asyncio channels.
        Loading a newly published model (files, the coordinator's roster) happens in a worker thread."""
        scorer = self._loaded_latest()
        if scorer is None:
            scorer = await asyncio.to_thread(self._usable)
        if scorer is None:
            return _unavailable(credit_codes)
        return await scorer.score_async(credit_codes, purpose=purpose, deadline_s=deadline_s, requester=requester)

    def _loaded_latest(self) -> FederatedSecureBoostScorer | FederatedScorecardScorer | None:
        """The scorer already loaded, if it is still the latest model's (a stat of the models folder)."""
        current = self._current
        try:
            folder = self._latest()
        except OSError:
            return None
        if current is None or folder is None or current[0] != folder.name:
            return None
        return current[1]

    def _usable(self) -> FederatedSecureBoostScorer | FederatedScorecardScorer | None:
        try:
            return self._scorer()
        except Exception as exc:  # a missing source endpoint or a corrupt part: no score, a clear code
            log.error("no usable model", extra={"error": f"{type(exc).__name__}: {exc}"})
            return None

    async def aclose(self) -> None:
        """Close the asyncio channels of the running loop (on that loop, at the API's shutdown)."""
        await self._aio_channels.aclose()

    def close(self) -> None:
        if self._current is not None:
            self._current[1].close()
        self._channels.close()
        self._aio_channels.forget()


def _unavailable(credit_codes: Sequence[str]) -> ScoreBatch:
    return ScoreBatch(tuple(ScoreFailure(c, FailureCode.MODEL_UNAVAILABLE, "no joint model is published yet")
                            for c in credit_codes))
