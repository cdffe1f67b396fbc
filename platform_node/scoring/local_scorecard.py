"""A real scorer behind the `Scorer` interface that runs in one process: a scorecard over per-source tables.

It stands in for the federated scorer in tests, the local benchmark and a standalone `xyd api serve`: it
asks every source for its features in parallel (chunk by chunk, with a per-source deadline), applies the
partial-failure policy of `platform_node.scoring.scorer` per enterprise, and does genuine scorecard arithmetic.
"""

from __future__ import annotations

import csv
import json
import math
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from errors import Unavailable
from models.scorecard.grades import DEFAULT_GRADES, GradeBands
from models.scorecard.params import ScorecardParams
from models.scorecard.points_table import TABLE_SCALE, Bin, Characteristic, Scorecard
from platform_node.scoring.scorer import (
    FailureCode,
    PartialFailurePolicy,
    ScoreBatch,
    ScoreFailure,
    ScoreOutcome,
    ScoreResult,
)

Features = Mapping[str, float | None]


class SourceUnavailable(Unavailable):
    """A source did not answer (dead, refused, or past its deadline)."""


class FeatureSource(Protocol):
    """One source unit's features, by credit code; enterprises it does not hold are simply absent."""

    @property
    def name(self) -> str: ...

    def fetch(self, credit_codes: Sequence[str]) -> Mapping[str, Features]: ...


class InMemoryFeatureSource:
    """A source unit's table held in a dict: credit code -> feature -> value (None = missing)."""

    def __init__(self, name: str, rows: Mapping[str, Features]) -> None:
        self._name = name
        self._rows = {code: dict(values) for code, values in rows.items()}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def fetch(self, credit_codes: Sequence[str]) -> Mapping[str, Features]:
        with self._lock:
            return {code: dict(self._rows[code]) for code in credit_codes if code in self._rows}

    def update(self, credit_code: str, **values: float | None) -> None:
        """Change an enterprise's features (the source published new data)."""
        with self._lock:
            self._rows.setdefault(credit_code, {}).update(values)


class UnavailableSource:
    """Wraps a source that dies after answering `answers_before_death` fetches (0: dead from the start)."""

    def __init__(self, inner: FeatureSource, answers_before_death: int = 0) -> None:
        self._inner, self._left = inner, answers_before_death
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._inner.name

    def fetch(self, credit_codes: Sequence[str]) -> Mapping[str, Features]:
        with self._lock:
            if self._left <= 0:
                raise SourceUnavailable(f"{self.name} is not reachable")
            self._left -= 1
        return self._inner.fetch(credit_codes)


class BlockedSource:
    """Wraps a source whose answers wait until `release` is set: a hung node, for deadline tests."""

    def __init__(self, inner: FeatureSource, release: threading.Event) -> None:
        self._inner, self._release = inner, release

    @property
    def name(self) -> str:
        return self._inner.name

    def fetch(self, credit_codes: Sequence[str]) -> Mapping[str, Features]:
        self._release.wait()
        return self._inner.fetch(credit_codes)


class LocalScorecardScorer:
    """`Scorer` over a `Scorecard` and one `FeatureSource` per source the scorecard uses."""

    def __init__(
        self,
        scorecard: Scorecard,
        sources: Sequence[FeatureSource],
        *,
        model_id: str,
        model_version: str,
        policy: PartialFailurePolicy = PartialFailurePolicy.FAIL_ENTERPRISE,
        chunk_size: int = 1000,
    ) -> None:
        by_name = {s.name: s for s in sources}
        missing = set(scorecard.sources) - set(by_name)
        if missing:
            raise ValueError(f"no feature source for {sorted(missing)}")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._scorecard, self._sources = scorecard, by_name
        self._model_id, self._model_version = model_id, model_version
        self._policy, self._chunk = PartialFailurePolicy(policy), chunk_size
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(by_name)), thread_name_prefix="local-scorer")

    def serving(self) -> tuple[str, str]:
        """The id and version of the model this scorer serves."""
        return self._model_id, self._model_version

    @property
    def scorecard(self) -> Scorecard:
        return self._scorecard

    def source(self, name: str) -> FeatureSource:
        return self._sources[name]

    def with_sources(self, replacements: Sequence[FeatureSource]) -> LocalScorecardScorer:
        """The same scorer with some sources swapped (e.g. for an `UnavailableSource`)."""
        sources = {**self._sources, **{s.name: s for s in replacements}}
        return LocalScorecardScorer(
            self._scorecard, list(sources.values()), model_id=self._model_id,
            model_version=self._model_version, policy=self._policy, chunk_size=self._chunk,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def score(self, credit_codes: Sequence[str], *, purpose: str, deadline_s: float, requester: str = ""
              ) -> ScoreBatch:
        results: list[ScoreResult] = []
        for start in range(0, len(credit_codes), self._chunk):
            results.extend(self._score_chunk(credit_codes[start : start + self._chunk], deadline_s))
        return ScoreBatch(tuple(results))

    def _score_chunk(self, codes: Sequence[str], deadline_s: float) -> list[ScoreResult]:
        futures: dict[str, Future[Mapping[str, Features]]] = {
            name: self._pool.submit(source.fetch, codes) for name, source in self._sources.items()
        }
        wait(futures.values(), timeout=deadline_s)
        answers: dict[str, Mapping[str, Features]] = {}
        failed: list[str] = []
        for name, future in futures.items():
            if future.done() and future.exception() is None:
                answers[name] = future.result()
            else:
                future.cancel()
                failed.append(name)
        return [self._result(code, answers, tuple(sorted(failed))) for code in codes]

    def _result(self, code: str, answers: Mapping[str, Mapping[str, Features]], failed: tuple[str, ...]) -> ScoreResult:
        known = any(code in rows for rows in answers.values())
        if not known:
            if failed:
                return ScoreFailure(code, FailureCode.SOURCE_UNAVAILABLE, "a source node did not answer", failed)
            return ScoreFailure(code, FailureCode.UNKNOWN_ENTERPRISE, "no source holds this enterprise")
        if failed and self._policy is PartialFailurePolicy.FAIL_ENTERPRISE:
            return ScoreFailure(code, FailureCode.SOURCE_UNAVAILABLE, "a source node did not answer", failed)
        features: dict[str, float | None] = {}
        for rows in answers.values():
            features.update(rows.get(code, {}))
        verdict = self._scorecard.evaluate(features, missing_sources=failed)
        return ScoreOutcome(
            credit_code=code,
            probability_of_default=verdict.probability_of_default,
            score=verdict.score,
            grade=verdict.grade,
            reason_codes=verdict.reason_codes,
            model_id=self._model_id,
            model_version=self._model_version,
            degraded=bool(failed),
            missing_sources=failed,
        )


def _number(text: str) -> float | None:
    if text.strip() == "":
        return None
    value = float(text)
    return None if math.isnan(value) else value


def load_local_scorer(path: Path, *, policy: PartialFailurePolicy | None = None) -> LocalScorecardScorer:
    """Build a local scorer from a JSON model file whose `tables` name one CSV (with `credit_code`) per source.

    File shape: {"model_id", "model_version", "base_points", "scale": {...}, "policy"?, "characteristics":
    [{"feature", "source", "category", "missing_points", "bins": [[upper|null, points], ...]}],
    "tables": {"source/tax": "tax.csv", ...}}; relative CSV paths are resolved next to the file.
    """
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    characteristics = [
        Characteristic(
            feature=c["feature"], source=c["source"], category=c["category"],
            bins=tuple(Bin(None if u is None else float(u), int(p)) for u, p in c["bins"]),
            missing_points=int(c["missing_points"]),
        )
        for c in spec["characteristics"]
    ]
    scorecard = Scorecard(
        int(spec["base_points"]), tuple(characteristics),
        ScorecardParams(**{**{"pdo": TABLE_SCALE.pdo}, **spec.get("scale", {})}),
        GradeBands(**spec["grades"]) if "grades" in spec else DEFAULT_GRADES,
    )
    features_of: dict[str, set[str]] = {}
    for c in characteristics:
        features_of.setdefault(c.source, set()).add(c.feature)
    sources = []
    for name, table in spec["tables"].items():
        table_path = Path(table) if Path(table).is_absolute() else path.parent / table
        with table_path.open(newline="", encoding="utf-8") as handle:
            rows = {
                row["credit_code"]: {f: _number(row[f]) for f in features_of.get(name, ()) if f in row}
                for row in csv.DictReader(handle)
            }
        sources.append(InMemoryFeatureSource(name, rows))
    chosen = policy or PartialFailurePolicy(spec.get("policy", PartialFailurePolicy.FAIL_ENTERPRISE))
    return LocalScorecardScorer(
        scorecard, sources, model_id=spec["model_id"], model_version=str(spec["model_version"]), policy=chosen
    )
