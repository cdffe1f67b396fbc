"""The bank API's scorer: any joint model the federation published (SecureBoost, scorecard, vertical LR raw
or WOE), scored federatedly.

A request names a model id, or gets the platform's default for its purpose (`ModelChoice`), else the newest
published part under `<state_dir>/models/`. The scorer asks the coordinator where the model's source nodes
listen and delegates to a `FederatedSecureBoostScorer`, `FederatedScorecardScorer` or `FederatedLrScorer`
(each loaded once, then kept); a model id with no published part, or any request before a model is
published, gets MODEL_UNAVAILABLE.
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
from federation.job_ids import InvalidJobId, check_model_id, inside
from federation.pki import Identity, NodeTls
from federation.proto import control_pb2, control_pb2_grpc
from models.scorecard.stored import read_part
from models.secureboost import ActiveModel
from platform_node.scoring.availability import AvailabilityPolicy
from platform_node.scoring.linear import FederatedLrScorer
from platform_node.scoring.model_choice import ModelChoice
from platform_node.scoring.privacy import PrivacySettings
from platform_node.scoring.scorecard import FederatedScorecardScorer
from platform_node.scoring.scorer import FailureCode, ScoreBatch, ScoreFailure
from platform_node.scoring.secureboost import FederatedSecureBoostScorer, SourceEndpoint
from platform_node.usage_reporting import AnswerCounter
from tables import LoadedTable

log = logging.getLogger("xyd.platform.scoring")
PART = "secureboost-active.bin"
SCORECARD_PART = "scorecard-part.bin"
LR_PART = "hetero-lr-part.bin"
PARTS = (PART, SCORECARD_PART, LR_PART)
Federated = FederatedSecureBoostScorer | FederatedScorecardScorer | FederatedLrScorer


class PublishedModelScorer:
    """A `Scorer` over every published model: the one a request names, else the purpose's configured default,
    else the latest published.

    The models folder is scanned again when its modification time changes (a model published into a new
    folder) and at least once a second (a part written into a folder after it was created)."""

    RESCAN_S = 1.0

    def __init__(self, *, models_dir: Path, own_table: LoadedTable, label_column: str, tls: NodeTls,
                 coordinator: str, usage: AnswerCounter | None = None,
                 availability: AvailabilityPolicy | None = None, choice: ModelChoice | None = None,
                 privacy: PrivacySettings | None = None) -> None:
        self.choice = choice or ModelChoice()
        self.chooses_models = True  # `score` takes a model_id (the coalescers pass it on)
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
        self._current: tuple[str, Federated] | None = None  # the latest published model's
        self._loaded: dict[str, Federated] = {}  # every model loaded so far, by id
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
        parts = [p for name in PARTS for p in self._models_dir.glob(f"*/{name}")]
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
                                        aio_channels=self._aio_channels, availability=self._availability,
                                        stats_dir=folder, privacy=self._privacy)

    def _linear(self, folder: Path) -> FederatedLrScorer:
        data = (folder / LR_PART).read_bytes()
        part = read_part(folder / LR_PART, "hetero_lr")
        return FederatedLrScorer(model_id=folder.name, model_version="v" + hashlib.sha256(data).hexdigest()[:12],
                                 part=part, own_table=self._own, label_column=self._label,
                                 sources=self._endpoints(part.hosts), channels=self._channels,
                                 aio_channels=self._aio_channels, availability=self._availability, stats_dir=folder,
                                 privacy=self._privacy)

    def _folder(self, model_id: str) -> Path | None:
        """The folder of a published model id, or None (malformed, outside models/, or no platform part)."""
        try:
            folder = inside(self._models_dir, check_model_id(model_id))
        except InvalidJobId:
            return None
        return folder if any((folder / name).exists() for name in PARTS) else None

    def _load(self, folder: Path) -> Federated:
        if (folder / SCORECARD_PART).exists():
            scorer: Federated = self._scorecard(folder)
        elif (folder / LR_PART).exists():
            scorer = self._linear(folder)
        else:
            data = (folder / PART).read_bytes()
            model = ActiveModel.from_bytes(data)
            scorer = FederatedSecureBoostScorer(
                model_id=folder.name, model_version="v" + hashlib.sha256(data).hexdigest()[:12], model=model,
                own_table=self._own, label_column=self._label, sources=self._endpoints(model.parties),
                channels=self._channels, aio_channels=self._aio_channels, availability=self._availability,
                defaults_dir=folder, privacy=self._privacy)
        scorer.usage = self._usage
        log.info("scoring with published model", extra={"model": folder.name})
        return scorer

    def _named(self, model_id: str) -> Federated | None:
        """The scorer of a model id (loaded once), or None if no such model is published here."""
        scorer = self._loaded.get(model_id)
        if scorer is not None:
            return scorer
        folder = self._folder(model_id)
        if folder is None:
            return None
        with self._lock:
            if model_id not in self._loaded:
                self._loaded[model_id] = self._load(folder)
            return self._loaded[model_id]

    def _scorer(self) -> Federated | None:
        folder = self._latest()
        if folder is None:
            return None
        with self._lock:
            if self._current is not None and self._current[0] == folder.name:
                return self._current[1]
            if folder.name in self._loaded:
                scorer = self._loaded[folder.name]
            else:
                scorer = self._loaded[folder.name] = self._load(folder)
            self._current = (folder.name, scorer)
            return scorer

    def published(self) -> list[tuple[str, str, str]]:
        """(model id, version, algorithm) of every model with a platform part here, newest first; algorithm is
        secureboost, scorecard, hetero_lr or hetero_lr_woe."""
        out = []
        try:
            parts = [p for name in PARTS for p in self._models_dir.glob(f"*/{name}")]
        except OSError:
            return []
        for path in sorted(parts, key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                data = path.read_bytes()
                if path.name == LR_PART:
                    algorithm = "hetero_lr_woe" if read_part(path, "hetero_lr").on_woe else "hetero_lr"
                else:
                    algorithm = "scorecard" if path.name == SCORECARD_PART else "secureboost"
            except Exception as exc:  # a corrupt part is not listed (and not served)
                log.warning("published part unreadable", extra={"model": path.parent.name, "error": str(exc)})
                continue
            out.append((path.parent.name, "v" + hashlib.sha256(data).hexdigest()[:12], algorithm))
        return out

    def serving(self) -> tuple[str, str] | None:
        """The id and version of the joint model scores come from now; None if none is usable."""
        try:
            scorer = self._scorer()
        except Exception:  # the same failures `score` turns into MODEL_UNAVAILABLE
            return None
        return None if scorer is None else (scorer.model_id, scorer.model_version)

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = "",
              model_id: str = "") -> ScoreBatch:
        """Score with `model_id`, else the purpose's configured model, else the latest published."""
        chosen = model_id or self.choice.for_purpose(purpose)
        scorer = self._usable(chosen)
        if scorer is None:
            return _unavailable(credit_codes, chosen)
        return scorer.score(credit_codes, purpose=purpose, deadline_s=deadline_s, requester=requester)

    async def score_async(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float,
                          requester: str = "", model_id: str = "") -> ScoreBatch:
        """`score` from the event loop of the bank API: the fan-out runs on the loop over asyncio channels.
        Loading a model (files, the coordinator's roster) happens in a worker thread."""
        chosen = model_id or self.choice.for_purpose(purpose)
        scorer = self._loaded.get(chosen) if chosen else self._loaded_latest()
        if scorer is None:
            scorer = await asyncio.to_thread(self._usable, chosen)
        if scorer is None:
            return _unavailable(credit_codes, chosen)
        return await scorer.score_async(credit_codes, purpose=purpose, deadline_s=deadline_s, requester=requester)

    def _loaded_latest(self) -> Federated | None:
        """The scorer already loaded, if it is still the latest model's (a stat of the models folder)."""
        current = self._current
        try:
            folder = self._latest()
        except OSError:
            return None
        if current is None or folder is None or current[0] != folder.name:
            return None
        return current[1]

    def _usable(self, model_id: str = "") -> Federated | None:
        try:
            return self._named(model_id) if model_id else self._scorer()
        except Exception as exc:  # a missing source endpoint or a corrupt part: no score, a clear code
            log.error("no usable model", extra={"error": f"{type(exc).__name__}: {exc}"})
            return None

    async def aclose(self) -> None:
        """Close the asyncio channels of the running loop (on that loop, at the API's shutdown)."""
        await self._aio_channels.aclose()

    def close(self) -> None:
        for scorer in self._loaded.values():
            scorer.close()
        self._channels.close()
        self._aio_channels.forget()


def _unavailable(credit_codes: Sequence[str], model_id: str = "") -> ScoreBatch:
    # The message never echoes the id a bank sent.
    message = "no usable published model with that id" if model_id else "no joint model is published yet"
    return ScoreBatch(tuple(ScoreFailure(c, FailureCode.MODEL_UNAVAILABLE, message) for c in credit_codes))
