"""The published global model as one JSON file a model registry can record and a scorer can load.

Layout (`format` = "xyd-horizontal-model", `version` = 1):
  kind            "logistic" | "xgboost"
  features        variable names, in the column order `predict_proba` expects
  bin_edges       logistic only: per-variable inner edges; the model reads [raw | one-hot bins]
  weights         logistic only: coefficients over the expanded columns, then the intercept
  booster         xgboost only: XGBoost's own JSON model (an object, not a string)
  training        how it was made: rounds, banks, strategy, aggregation, privacy budget, held-out metrics
  created_at      ISO-8601 UTC
  sha256          hex sha256 of the RFC 8785 canonical JSON of every other field
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rfc8785

from models.horizontal import boosting, logistic
from models.horizontal.binning import BinEdges
from models.horizontal.errors import InvalidParameterError, ModelIntegrityError

FORMAT = "xyd-horizontal-model"
VERSION = 1
KINDS = ("logistic", "xgboost")


@dataclass(frozen=True)
class GlobalModel:
    """A trained horizontal model, ready to score rows with the variables in `feature_names`."""

    kind: str
    feature_names: tuple[str, ...]
    training: dict[str, Any]
    created_at: str
    weights: tuple[float, ...] = ()
    bin_edges: BinEdges | None = None
    booster: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParameterError(f"kind {self.kind!r} not in {KINDS}")
        if self.kind == "logistic":
            if self.bin_edges is None or len(self.weights) != self.bin_edges.width + 1:
                raise InvalidParameterError("a logistic model needs bin edges and width + 1 weights")
        elif not self.booster:
            raise InvalidParameterError("an xgboost model needs its booster")

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of default for each row."""
        if features.shape[1] != len(self.feature_names):
            raise InvalidParameterError(f"expected {len(self.feature_names)} variables, got {features.shape[1]}")
        if self.kind == "logistic":
            assert self.bin_edges is not None
            return logistic.predict_proba(np.asarray(self.weights), self.bin_edges.expand(features))
        return boosting.predict_proba(self.booster, features)


def now_iso(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null (RFC 8785 has no encoding for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _digest(document: dict[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "sha256"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def to_document(model: GlobalModel) -> dict[str, Any]:
    """The JSON object of the file, sha256 included."""
    doc: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "kind": model.kind, "features": list(model.feature_names),
        "training": _finite(model.training), "created_at": model.created_at,
    }
    if model.kind == "logistic":
        assert model.bin_edges is not None
        doc["bin_edges"] = [list(e) for e in model.bin_edges.edges]
        doc["weights"] = [float(w) for w in model.weights]
    else:
        doc["booster"] = json.loads(model.booster)
    doc["sha256"] = _digest(doc)
    return doc


def from_document(doc: dict[str, Any]) -> GlobalModel:
    """Parse and verify a model document; raises ModelIntegrityError if anything was altered."""
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ModelIntegrityError("model file integrity", f"{FORMAT} v{VERSION}", f"{doc.get('format')} v{doc.get('version')}")
    digest = _digest(doc)
    if doc.get("sha256") != digest:
        raise ModelIntegrityError("model file integrity", digest, str(doc.get("sha256")))
    try:
        common = {"kind": doc["kind"], "feature_names": tuple(doc["features"]), "training": doc["training"],
                  "created_at": doc["created_at"]}
        if doc["kind"] == "logistic":
            edges = BinEdges(tuple(tuple(float(v) for v in e) for e in doc["bin_edges"]))
            return GlobalModel(**common, weights=tuple(float(w) for w in doc["weights"]), bin_edges=edges)
        return GlobalModel(**common, booster=json.dumps(doc["booster"]).encode())
    except (KeyError, TypeError) as exc:
        raise ModelIntegrityError("model file integrity", "all required fields", f"missing or malformed: {exc}") from exc


def write_model_file(model: GlobalModel, path: Path) -> str:
    """Write the model file; returns its sha256 (the registry's content id)."""
    doc = to_document(model)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True))
    return str(doc["sha256"])


def read_model_file(path: Path) -> GlobalModel:
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ModelIntegrityError("model file integrity", "JSON", f"unparseable file: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelIntegrityError("model file integrity", "a JSON object", type(doc).__name__)
    return from_document(doc)
