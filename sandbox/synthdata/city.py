"""Write a synthetic city: one CSV table and one TOML schema per source unit, the platform's table, a manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sandbox.synthdata.columns import UnitSpec, render_schema
from sandbox.synthdata.label import draw_default
from sandbox.synthdata.population import build_population
from sandbox.synthdata.units import SOURCE_UNITS, platform

GENERATOR_VERSION = 1
MANIFEST_NAME = "manifest.json"
DEFAULT_AS_OF = dt.date(2025, 12, 31)

# Independent random streams, so changing one unit's model never shifts another unit's draws.
_STREAM_POPULATION, _STREAM_LABEL, _STREAM_PLATFORM = 0, 1, 2
_STREAM_FIRST_UNIT = 10


@dataclass(frozen=True)
class UnitFile:
    """One written table: the unit, its data category, row count, file names (relative) and the CSV's SHA-256."""

    name: str
    category: str
    rows: int
    table: str
    schema: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a run wrote and with which parameters; `default_rate` is the realised share of label 1."""

    seed: int
    enterprises: int
    outsiders: int
    as_of: str
    default_rate: float
    platform: UnitFile
    units: tuple[UnitFile, ...]
    generator_version: int = GENERATOR_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            **{k: v for k, v in data.items() if k not in ("platform", "units")},
            platform=UnitFile(**data["platform"]),
            units=tuple(UnitFile(**u) for u in data["units"]),
        )

    @classmethod
    def read(cls, out_dir: Path) -> Manifest:
        return cls.from_dict(json.loads((Path(out_dir) / MANIFEST_NAME).read_text()))


def _write_table(spec: UnitSpec, frame: pd.DataFrame, out_dir: Path, rng: np.random.Generator) -> UnitFile:
    # Rows are shuffled so that no unit's row order reveals the order of another's.
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    for column in spec.columns:
        if column.type == "bool":
            frame[column.name] = frame[column.name].map({True: "true", False: "false"})
        elif column.type == "date":
            frame[column.name] = pd.to_datetime(frame[column.name]).dt.strftime("%Y-%m-%d")
    table_name, schema_name = f"{spec.name}.csv", f"{spec.name}.toml"
    blob = frame.to_csv(index=False, lineterminator="\n").encode()
    (out_dir / table_name).write_bytes(blob)
    (out_dir / schema_name).write_text(render_schema(spec), encoding="utf-8")
    return UnitFile(spec.name, spec.category, len(frame), table_name, schema_name, hashlib.sha256(blob).hexdigest())


def generate(
    enterprises: int,
    seed: int,
    out_dir: Path,
    *,
    outsider_rate: float = 0.1,
    default_rate: float = 0.08,
    as_of: dt.date = DEFAULT_AS_OF,
) -> Manifest:
    """Generate `enterprises` platform customers (plus `outsider_rate` x as many known only to source units).

    Deterministic for a given seed and parameters; see docs/synthetic-data.md for the generative model.
    """
    if enterprises < 1:
        raise ValueError("enterprises must be at least 1")
    if not 0 <= outsider_rate <= 10:
        raise ValueError("outsider_rate must be in [0, 10]")
    if not 0 < default_rate < 1:
        raise ValueError("default_rate must be in (0, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    outsiders = round(enterprises * outsider_rate)
    pop = build_population(enterprises, outsiders, stream(_STREAM_POPULATION), random.Random(seed), as_of)
    _, label = draw_default(pop, stream(_STREAM_LABEL), default_rate)
    units = []
    for k, unit in enumerate(SOURCE_UNITS):
        rng = stream(_STREAM_FIRST_UNIT + k)
        units.append(_write_table(unit.SPEC, unit.observe(pop, rng), out_dir, rng))
    rng = stream(_STREAM_PLATFORM)
    platform_file = _write_table(platform.SPEC, platform.observe(pop, rng, label), out_dir, rng)
    manifest = Manifest(
        seed=seed,
        enterprises=enterprises,
        outsiders=outsiders,
        as_of=as_of.isoformat(),
        default_rate=round(float(label[pop.on_platform].mean()), 6),
        platform=platform_file,
        units=tuple(units),
    )
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return manifest
