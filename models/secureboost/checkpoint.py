"""Training state at a tree boundary, for resuming a SecureBoost run after a crash.

After the active party's `TreeVerdict` for tree t every party holds the same model prefix of t + 1 trees;
that is the unit the parties checkpoint. Each party's state is its own: the active party keeps its trees,
margins, validation score and row-sampling generator; a passive party keeps its lookup table, tree shapes,
column-sampling generator and its split-id key. Nothing in a checkpoint ever leaves its party: the files sit
in the party's own job folder (`federation.checkpoints`). Restoring a state and training on gives the very
model an uninterrupted run gives, because every random choice of the protocol's plaintext side comes from
these generators and keys (encryption randomness is fresh and changes no decrypted sum).

The encoding is JSON with floats written as their shortest round-trip text and arrays as base64 float64,
so a restored state equals the saved one bit for bit; nothing is unpickled.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.secureboost.active import TreeRecord
from models.secureboost.errors import ProtocolError
from models.secureboost.model import SplitRule, TreeNodes
from models.secureboost.state import ActiveState, PassiveState

FORMAT = "xyd/secureboost-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """One party's checkpoint: the trees agreed so far, whether the last verdict stopped training, the
    fingerprint of the shared parameters it belongs to, and the party's own state."""

    trees_done: int
    stopped: bool
    fingerprint: str
    active: ActiveState | None = None
    passive: PassiveState | None = None


def fingerprint(setup_fields: Mapping[str, Any]) -> str:
    """A digest of the parameters every party shares (rows, trees, depth, bins, sampling, seed): a checkpoint
    of one training is never resumed into another."""
    return hashlib.sha256(json.dumps(dict(setup_fields), sort_keys=True).encode()).hexdigest()[:32]


def _array(values: np.ndarray | None) -> str | None:
    if values is None:
        return None
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _from_array(text: str | None, shape: list[int] | None = None) -> np.ndarray | None:
    if text is None:
        return None
    values = np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)
    return values if shape is None else values.reshape(shape)


def _weight(value: Any) -> float | tuple[float, ...]:
    """A leaf's weight: one number, or one per class (softmax)."""
    return tuple(float(v) for v in value) if isinstance(value, list) else float(value)


def _passive_doc(state: PassiveState) -> dict[str, Any]:
    return {"key": state.key.hex(), "trees": [list(t) for t in state.trees],
            "rules": [asdict(r) for r in state.rules.values()], "rng": dict(state.rng)}


def _passive_from(doc: Mapping[str, Any]) -> PassiveState:
    rules = {int(r["split_id"]): SplitRule(int(r["split_id"]), int(r["tree"]), int(r["node"]), str(r["feature"]),
                                           float(r["threshold"]), bool(r["missing_left"])) for r in doc["rules"]}
    return PassiveState(bytes.fromhex(doc["key"]), tuple(tuple(int(n) for n in t) for t in doc["trees"]), rules,
                        doc["rng"])


def _active_doc(state: ActiveState) -> dict[str, Any]:
    return {
        "trees": [{"splits": [[node, owner, sid, gain] for node, (owner, sid, gain) in sorted(t.splits.items())],
                   "leaves": [[node, weight] for node, weight in sorted(t.leaves.items())]} for t in state.trees],
        "margin": _array(state.margin), "valid_margin": _array(state.valid_margin),
        "margin_shape": list(state.margin.shape),  # (rows,) or (rows, classes) for softmax
        "valid_margin_shape": None if state.valid_margin is None else list(state.valid_margin.shape),
        "best": None if state.best is None else list(state.best),
        "history": [{"tree": r.tree, "splits": dict(r.splits), "valid_score": r.valid_score} for r in state.history],
        "stopped": state.stopped, "rng": dict(state.rng), "own": _passive_doc(state.own),
    }


def _active_from(doc: Mapping[str, Any]) -> ActiveState:
    trees = tuple(TreeNodes({int(n): (str(o), int(s), float(g)) for n, o, s, g in t["splits"]},
                            {int(n): _weight(w) for n, w in t["leaves"]}) for t in doc["trees"])
    best = None if doc["best"] is None else (float(doc["best"][0]), int(doc["best"][1]))
    history = tuple(TreeRecord(int(r["tree"]), {str(k): int(v) for k, v in r["splits"].items()},
                               None if r["valid_score"] is None else float(r["valid_score"])) for r in doc["history"])
    margin = _from_array(doc["margin"], doc.get("margin_shape"))
    assert margin is not None
    valid_margin = _from_array(doc["valid_margin"], doc.get("valid_margin_shape"))
    return ActiveState(trees, margin, valid_margin, best, history, bool(doc["stopped"]),
                       doc["rng"], _passive_from(doc["own"]))


def encode(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as UTF-8 JSON."""
    doc: dict[str, Any] = {"format": FORMAT, "trees_done": checkpoint.trees_done, "stopped": checkpoint.stopped,
                           "fingerprint": checkpoint.fingerprint}
    if checkpoint.active is not None:
        doc["active"] = _active_doc(checkpoint.active)
    if checkpoint.passive is not None:
        doc["passive"] = _passive_doc(checkpoint.passive)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def decode(data: bytes, *, expected_fingerprint: str) -> Checkpoint:
    """A checkpoint written by `encode`; `ProtocolError` if it belongs to another training or format."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("checkpoint encoding", FORMAT, "not JSON") from exc
    if doc.get("format") != FORMAT:
        raise ProtocolError("checkpoint format", FORMAT, doc.get("format"))
    if doc.get("fingerprint") != expected_fingerprint:
        raise ProtocolError("checkpoint of this training", expected_fingerprint, doc.get("fingerprint"))
    return Checkpoint(int(doc["trees_done"]), bool(doc["stopped"]), doc["fingerprint"],
                      _active_from(doc["active"]) if "active" in doc else None,
                      _passive_from(doc["passive"]) if "passive" in doc else None)
