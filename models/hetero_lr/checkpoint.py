"""Training state at an epoch boundary, for resuming a vertical LR run after a crash.

After the guest's `EpochEnd` for epoch e (one that does not stop training) every party has finished the
same e + 1 epochs: that is the unit the parties checkpoint. Each party's state is its own and stays in its
own job folder (`federation.checkpoints`):

* guest: epochs done, its weights, intercept and both momentum velocities, the row-order generator's state,
  the loss of every epoch and the convergence counter;
* host: epochs done, its weights and momentum velocity;
* arbiter: epochs done only. Its CKKS secret key is never written: a resumed run makes a fresh key and
  every party binds to the new public context, which changes no decrypted (masked) sum.

Restoring these and training on replays the very updates an uninterrupted run makes, given the same
masked sums: in plaintext mode (no flooding noise, masks cancel to float rounding) the models agree to
about 1e-12; in CKKS mode every run, interrupted or not, carries its own encryption and flooding noise.

Encoding: JSON, floats as shortest round-trip text and arrays as base64 float64 (bit-exact); nothing is
unpickled. A fingerprint of the plan ties a checkpoint to its training.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr.params import ProtocolError

FORMAT = "xyd/hetero-lr-checkpoint/1"


def plan_fingerprint(plan: pb.TrainPlan) -> str:
    """A digest of the plan every party received: a checkpoint of one training is never resumed into
    another (other rows, batch size, epochs or learning rate)."""
    return hashlib.sha256(plan.SerializeToString(deterministic=True)).hexdigest()[:32]


def encode_array(values: np.ndarray) -> str:
    """float64 values as base64 text, bit for bit."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    """The inverse of `encode_array`."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


@dataclass(frozen=True)
class EpochState:
    """One party's state after `epochs` finished epochs; `weights` is None for the arbiter."""

    role: str
    epochs: int
    fingerprint: str
    weights: Mapping[str, Any] | None = None
    guest: Mapping[str, Any] | None = None

    def encode(self) -> bytes:
        doc = {"format": FORMAT, "role": self.role, "epochs": self.epochs, "fingerprint": self.fingerprint,
               "weights": self.weights, "guest": self.guest}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes, *, role: str, fingerprint: str) -> EpochState:
        """Parse a checkpoint, refusing one of another role, format or training."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise ProtocolError(f"unreadable hetero-LR checkpoint: {exc}") from exc
        if doc.get("format") != FORMAT or doc.get("role") != role:
            raise ProtocolError(f"not a {role} hetero-LR checkpoint of format {FORMAT}")
        if doc.get("fingerprint") != fingerprint:
            raise ProtocolError("the checkpoint belongs to another training plan")
        return cls(role, int(doc["epochs"]), fingerprint, doc.get("weights"), doc.get("guest"))
