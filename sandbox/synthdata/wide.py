"""A city at scale for benchmarks: every enterprise known to a few wide source units, labels for a share of them.

The same population and label model as `generate` (population.py, label.py); instead of seven narrow unit
tables, `sources` units each observe the latent factors through `features` noisy columns (about a third of
each unit's columns carry one of its factors, a few carry another unit's, the rest are noise), so the
signal is spread across units and no single one predicts default well. Tables are written in chunks of
25,000 rows, so memory stays bounded at any size (a 25,000-row chunk of 30 features takes about 120 MB while it is formatted).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from sandbox.synthdata.city import DEFAULT_AS_OF
from sandbox.synthdata.label import draw_default
from sandbox.synthdata.population import build_population

# Which latent factors each wide unit observes first (it also sees a little of the next unit's).
_UNIT_FACTORS = (("fin", "legal"), ("work", "ops"), ("trade", "innov", "plat"))
_STREAM_WIDE = 40
_CHUNK_ROWS = 25_000


@dataclass(frozen=True)
class WideCity:
    """Files of one wide city: the platform's labelled rows and one table per source unit."""

    platform: Path
    sources: tuple[Path, ...]
    enterprises: int
    labelled: int
    default_rate: float


def generate_wide(enterprises: int, labelled: int, seed: int, out_dir: Path, *, sources: int = 3,
                  features: int = 30, missing_rate: float = 0.05) -> WideCity:
    """Write `platform.csv` (id, label `y`, 4 platform features; `labelled` rows) and `source{k}.csv`
    (id, `features` columns; every enterprise) for k < `sources`. Deterministic in its arguments (the
    chunk size is fixed: each chunk draws its own noise)."""
    chunk = _CHUNK_ROWS
    if not 1 <= labelled <= enterprises:
        raise ValueError("labelled must be in [1, enterprises]")
    if sources < 1 or features < 3:
        raise ValueError("need at least one source unit and three features")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pop = build_population(enterprises, 0, np.random.default_rng([seed, 0]), random.Random(seed), DEFAULT_AS_OF)
    _, label = draw_default(pop, np.random.default_rng([seed, 1]), 0.08)
    codes = pop.code.astype(str)
    rng = np.random.default_rng([seed, _STREAM_WIDE])
    chosen = np.sort(rng.choice(enterprises, size=labelled, replace=False))
    platform = np.column_stack([np.log1p(pop.age_years), pop.size.astype(float), pop.industry.astype(float),
                                np.log1p(pop.employees.astype(float))])[chosen]
    platform_path = out_dir / "platform.csv"
    _write(platform_path, codes[chosen], platform, [f"p{j}" for j in range(platform.shape[1])], label[chosen], chunk)
    paths = []
    for k in range(sources):
        unit_rng = np.random.default_rng([seed, _STREAM_WIDE + 1 + k])
        own = _UNIT_FACTORS[k % len(_UNIT_FACTORS)]
        other = _UNIT_FACTORS[(k + 1) % len(_UNIT_FACTORS)]
        # Column j observes: own factors (first third), another unit's (next sixth), or nothing (noise).
        plan = [own[j % len(own)] if j < features // 3 else
                other[j % len(other)] if j < features // 2 else None for j in range(features)]
        loadings = unit_rng.uniform(0.3, 0.9, features)
        order = unit_rng.permutation(enterprises)  # no unit's row order reveals another's
        path = out_dir / f"source{k}.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write("id," + ",".join(f"s{k}_{j}" for j in range(features)) + "\n")
            for start in range(0, enterprises, chunk):
                rows = order[start:start + chunk]
                block = unit_rng.normal(size=(rows.size, features))
                for j, factor in enumerate(plan):
                    if factor is not None:
                        block[:, j] = loadings[j] * pop.factors[factor][rows] + np.sqrt(1 - loadings[j] ** 2) * block[:, j]
                block[unit_rng.random(block.shape) < missing_rate] = np.nan
                _append(out, codes[rows], block)
        paths.append(path)
    return WideCity(platform_path, tuple(paths), enterprises, labelled, round(float(label[chosen].mean()), 6))


def _write(path: Path, ids: np.ndarray, values: np.ndarray, names: list[str], label: np.ndarray, chunk: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("id,y," + ",".join(names) + "\n")
        for start in range(0, ids.size, chunk):
            stop = start + chunk
            _append(out, ids[start:stop], values[start:stop], label[start:stop])


def _append(out: TextIO, ids: np.ndarray, values: np.ndarray, label: np.ndarray | None = None) -> None:
    text = np.char.mod("%.6g", values)
    text[np.isnan(values)] = ""
    columns = [ids] + ([label.astype(str)] if label is not None else []) + [text[:, j] for j in range(values.shape[1])]
    lines = columns[0].astype(object)
    for column in columns[1:]:
        lines = lines + "," + column.astype(object)
    out.write("\n".join(lines.tolist()) + "\n")
