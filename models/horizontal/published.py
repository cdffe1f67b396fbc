"""Published horizontal model files: content-addressed ids, an atomic publish, a verified load.

A published file is `<model_id>.json` in a models folder, where model_id is `hz-m` and the first 16 hex
digits of the file's sha256 (the id `xyd model register` records). Loading checks the sha256 and that
the name is the id of the content, so neither a tampered nor a renamed file is ever served.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.horizontal.errors import HorizontalError, ModelIntegrityError
from models.horizontal.model_file import GlobalModel, from_document

# "m" keeps the id's hash segment from being all digits, which audit leaves refuse as a possible id number.
MODEL_ID_PREFIX = "hz-m"
# Where a platform node keeps the published files, relative to its state folder (the default of
# `[api] horizontal_models_dir`); the demo publishes there.
PUBLISHED_MODELS_SUBDIR = Path("models") / "horizontal"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MODEL_ID = re.compile(r"hz-m[0-9a-f]{16}")


def horizontal_model_id(sha256: str) -> str:
    """The registry id of a model file: `hz-m` and the first 16 hex digits of its sha256."""
    if not _SHA256.fullmatch(sha256):
        raise ModelIntegrityError("model file integrity", "a hex sha256", repr(sha256[:80]))
    return f"{MODEL_ID_PREFIX}{sha256[:16]}"


def is_model_file_name(name: str) -> bool:
    """True for `<model_id>.json` names (not temporary files of a publish in progress)."""
    return name.endswith(".json") and bool(_MODEL_ID.fullmatch(name.removesuffix(".json")))


@dataclass(frozen=True)
class PublishedModel:
    """A verified model file and the id and version it is served under."""

    model_id: str
    model_version: str
    sha256: str
    model: GlobalModel

    @property
    def kind(self) -> str:
        """The registry's algorithm name: `horizontal_logistic` or `horizontal_xgboost`."""
        return f"horizontal_{self.model.kind}"


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelIntegrityError("model file integrity", "a readable model file", f"{type(exc).__name__}: {exc.strerror}") from exc


def _parse(data: bytes) -> PublishedModel:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError("model file integrity", "a JSON model file", f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelIntegrityError("model file integrity", "a JSON object", type(doc).__name__)
    try:
        model = from_document(doc)
    except ModelIntegrityError:
        raise
    except (HorizontalError, ValueError, TypeError) as exc:  # hashed right but not a model we can build
        raise ModelIntegrityError("model file integrity", "a well-formed model", f"{type(exc).__name__}: {exc}") from exc
    sha = str(doc["sha256"])
    return PublishedModel(horizontal_model_id(sha), f"v{sha[:12]}", sha, model)


def read_published(path: Path) -> PublishedModel:
    """Load `<model_id>.json`; raises ModelIntegrityError if the content or the name does not check."""
    published = _parse(_read(path))
    if Path(path).name != f"{published.model_id}.json":
        raise ModelIntegrityError("model file integrity", f"{published.model_id}.json", Path(path).name)
    return published


def publish_model_file(source: Path, directory: Path) -> Path:
    """Copy a verified model file to `directory/<model_id>.json` atomically; returns the new path.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed over the
    target (and the folder synced), so a reader scanning the folder sees either no file or the whole
    one, never a partial one.
    A file that fails its sha256 check is refused before anything is written.
    """
    data = _read(source)
    published = _parse(data)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{published.model_id}.json"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{published.model_id}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it 0600; a model file is no secret
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(directory, os.O_RDONLY)
    try:  # make the rename itself durable
        os.fsync(folder)
    finally:
        os.close(folder)
    return target


def public_training_summary(training: dict[str, Any]) -> dict[str, Any]:
    """What a model's training record may tell any API client: how it was made and how well it does.

    Leaves out the banks' names and each bank's held-out figures (its row count is the size of its
    loan book); keeps the strategy, aggregation, rounds, the number of banks, the pooled held-out AUC
    and the differential-privacy budget.
    """
    summary: dict[str, Any] = {}
    for key in ("strategy", "aggregation"):
        if isinstance(training.get(key), str):
            summary[key] = training[key]
    if isinstance(training.get("rounds"), int):
        summary["rounds"] = training["rounds"]
    if isinstance(training.get("banks"), list):
        summary["banks"] = len(training["banks"])
    holdout = training.get("holdout")
    if isinstance(holdout, dict) and isinstance(holdout.get("holdout_auc"), int | float):
        summary["holdout_auc"] = float(holdout["holdout_auc"])
    privacy = training.get("privacy")
    if isinstance(privacy, dict):
        summary["privacy"] = {k: privacy[k] for k in ("mechanism", "epsilon", "delta")
                              if isinstance(privacy.get(k), str | int | float)}
    return summary
