"""The aggregator's state after each finished round, kept on the platform's disk so a killed ServerApp
(or SuperLink) run resumes at the next round instead of starting over.

Flower 1.42 has no ServerApp checkpoint of its own (a SuperLink's `--database` keeps runs, nodes and
messages, not a ServerApp's progress), so the ServerApp saves, after round r, under
`<checkpoint-dir>/checkpoints/aggregator/<r>.ckpt` (`federation.checkpoints`: atomic, SHA-256 checked):
the round number, the banks' key fingerprint, the settings' fingerprint, the per-round figures and traffic
so far, and what the next round needs: the encrypted model sum (logistic: a CKKS ciphertext under the
banks' key, which the aggregator cannot read) or the sealed booster (XGBoost: AES-256-GCM under the banks'
key) with the id of the Flower run that started the training, to which the sealed boosters are bound
(a resumed run names it to the banks). So a checkpoint holds nothing the aggregator does not already see during the run. A new run with
the same `checkpoint-dir` asks the banks for their key fingerprint again, refuses a checkpoint made under
another key or other settings, and continues after the largest saved round.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bank_federation.records import ProtocolError
from bank_federation.settings import RunSettings
from federation.checkpoints import CheckpointStore

FORMAT = "xyd/bank-aggregator-checkpoint/1"
STAGE = "aggregator"


def settings_fingerprint(settings: RunSettings) -> str:
    """What a resumed run must share with the saved one: the model and every training parameter (not the
    number of rounds, output folder or timeouts)."""
    shared = {k: v for k, v in asdict(settings).items()
              if k not in ("rounds", "output_dir", "checkpoint_dir", "wait_timeout", "round_timeout")}
    return hashlib.sha256(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@dataclass
class RoundState:
    """The aggregator after `round` finished rounds."""

    round: int
    key_fingerprint: str
    settings: str
    rounds: list[dict[str, Any]] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    model_sum: bytes | None = None
    sealed: bytes | None = None
    origin_run: int = 0  # the Flower run that started the training (XGBoost boosters are bound to it)

    def encode(self) -> bytes:
        doc = {"format": FORMAT, "round": self.round, "key_fingerprint": self.key_fingerprint,
               "settings": self.settings, "rounds": self.rounds, "traffic": self.traffic,
               "model_sum": _b64(self.model_sum), "sealed": _b64(self.sealed), "origin_run": self.origin_run}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> RoundState:
        doc = json.loads(data.decode("utf-8"))
        if doc.get("format") != FORMAT:
            raise ProtocolError(f"not an aggregator checkpoint of format {FORMAT}")
        return cls(int(doc["round"]), str(doc["key_fingerprint"]), str(doc["settings"]), list(doc["rounds"]),
                   dict(doc["traffic"]), _bytes(doc["model_sum"]), _bytes(doc["sealed"]), int(doc["origin_run"]))


class AggregatorCheckpoints:
    """The round checkpoints of one federation run at the platform (`checkpoint-dir`)."""

    def __init__(self, folder: Path) -> None:
        self._store = CheckpointStore(folder, STAGE)

    def latest(self) -> RoundState | None:
        """The state after the largest saved round, or None."""
        units = self._store.units()
        return RoundState.decode(self._store.load(units[-1])) if units else None

    def save(self, state: RoundState) -> None:
        self._store.save(state.round, state.encode())

    def rounds(self) -> list[int]:
        """The rounds saved, ascending (the last two are kept)."""
        return self._store.units()
