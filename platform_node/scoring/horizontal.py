"""The banks' horizontal models as the platform serves them: the published files of one folder, scored one
applicant at a time with the standardised variables the asking bank sends.

The folder is re-scanned on every call (one `scandir` and a stat per file: microseconds), so a model
published while the API runs is served at once, and a file replaced or altered is re-verified before its
next use. A file that fails verification (sha256, or a name that is not the id of its content) is
refused: logged once per version of the file, never served. Since the id is the content's hash, an id
served always means exactly the registered model. The platform keeps none of the variables:
they are scored and dropped; only the outcome (probability, score, grade, variable names as reason codes)
leaves this module.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from errors import NotFound
from models.horizontal import PublishedModel, ServableModel, read_published
from models.horizontal.published import is_model_file_name
from models.scorecard.params import ScorecardParams
from platform_node.scoring.scorer import ScoreOutcome, grade_of

log = logging.getLogger("xyd.platform.scoring")

_NOT_TOKEN = re.compile(r"[^a-z0-9_]+")


class UnknownModel(NotFound):
    """No verified horizontal model with this id is published in the platform's folder."""

    def __init__(self, model_id: str) -> None:
        super().__init__(f"no horizontal model {model_id!r} is served")
        self.model_id = model_id


def reason_token(name: str) -> str:
    """A variable name as a reason code: lowercase, `[a-z0-9_]`, starting with a letter, at most 64 chars."""
    token = _NOT_TOKEN.sub("_", name.lower()).strip("_")
    if not token or not token[0].isalpha():
        token = f"v_{token}"
    return token[:64]


@dataclass(frozen=True)
class HorizontalModel:
    """A verified published model ready to score."""

    published: PublishedModel
    servable: ServableModel

    @property
    def model_id(self) -> str:
        return self.published.model_id


# What identifies one version of a file on disk: a publish (a rename) or an edit changes at least one.
_FileKey = tuple[int, int, int]
# File times tick coarsely (a few ms), so an edit right after a read can keep the mtime and size: like
# git's "racily clean" entries, a file modified less than this long before it was verified is verified
# again on the next scan, until it is older.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class _Seen:
    key: _FileKey
    verified_at_ns: int
    model: HorizontalModel | None  # None: refused

    def still_valid(self, key: _FileKey) -> bool:
        return key == self.key and key[0] < self.verified_at_ns - RACY_NS


class HorizontalScorer:
    """Serves every verified `<model_id>.json` of `directory` (None: no folder, no models)."""

    def __init__(self, directory: Path | None, *, scale: ScorecardParams | None = None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._directory = directory
        self._scale = scale or ScorecardParams()
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._files: dict[str, _Seen] = {}
        self._served: dict[str, HorizontalModel] = {}

    @property
    def directory(self) -> Path | None:
        return self._directory

    def refresh(self) -> None:
        """Re-scan the folder: load new or changed files (verifying each), drop removed ones."""
        if self._directory is None:
            return
        try:
            entries = [(e.name, e.stat()) for e in os.scandir(self._directory)
                       if is_model_file_name(e.name) and e.is_file()]
        except FileNotFoundError:
            entries = []
        with self._lock:
            files: dict[str, _Seen] = {}
            for name, stat in entries:
                key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
                known = self._files.get(name)
                files[name] = known if known is not None and known.still_valid(key) else self._load(name, key, known)
            self._files = files
            self._served = {seen.model.model_id: seen.model for seen in files.values() if seen.model is not None}

    def _load(self, name: str, key: _FileKey, known: _Seen | None) -> _Seen:
        assert self._directory is not None
        verified_at = self._clock_ns()
        try:
            published = read_published(self._directory / name)
            model: HorizontalModel | None = HorizontalModel(published, ServableModel(published.model))
            error = ""
        except Exception as exc:  # whatever fails to load (hash, name, booster) is refused, not raised
            model, error = None, str(exc)
        # A racy re-verification that finds what it found before says nothing new.
        if known is None or known.key != key or (known.model is None) != (model is None):
            if model is None:
                log.warning("horizontal model file refused", extra={"file": name, "error": error})
            else:
                log.info("horizontal model loaded", extra={"model": model.model_id, "kind": model.published.kind,
                                                           "variables": len(model.servable.variables)})
        return _Seen(key, verified_at, model)

    def models(self) -> list[HorizontalModel]:
        """Every model served now, by id."""
        self.refresh()
        return [self._served[k] for k in sorted(self._served)]

    def get(self, model_id: str) -> HorizontalModel:
        self.refresh()
        model = self._served.get(model_id)
        if model is None:
            raise UnknownModel(model_id)
        return model

    def score(self, model_id: str, credit_code: str, variables: Mapping[str, float]) -> ScoreOutcome:
        """Score one applicant; raises UnknownModel, or InvalidVariablesError naming the misfit variables.

        The reason codes are the variables that raised the risk most, as tokens: the bank sent them, so
        naming them tells it nothing about anyone else.
        """
        model = self.get(model_id)
        assessment = model.servable.assess(variables)
        score = int(round(self._scale.score(-assessment.log_odds_of_default)))
        reasons: list[str] = []
        for name in assessment.risk_drivers(len(assessment.contributions)):
            token = reason_token(name)
            if token not in reasons:
                reasons.append(token)
            if len(reasons) == self._scale.max_reasons:
                break
        return ScoreOutcome(credit_code, min(max(assessment.probability_of_default, 0.0), 1.0), score,
                            grade_of(score), tuple(reasons), model.published.model_id, model.published.model_version)
