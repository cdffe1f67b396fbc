"""Synthetic enterprise data: loads cleanly through intake, is deterministic, realistic, and rewards joining units."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from consent.credit_code import invalid_credit_code_positions
from sandbox.synthdata import LABEL_COLUMN, MANIFEST_NAME, Manifest, generate
from sandbox.synthdata.cli import register
from tables import LoadedTable, Sensitivity, load_table

UNITS = {"tax", "social_insurance", "housing_fund", "utilities", "customs", "ip", "court"}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path, dict[str, LoadedTable]]:
    out = tmp_path_factory.mktemp("city")
    manifest = generate(3000, seed=11, out_dir=out)
    tables = {u.name: load_table(out / u.schema, out / u.table) for u in (manifest.platform, *manifest.units)}
    return manifest, out, tables


def test_every_table_loads_and_matches_the_manifest(city) -> None:
    manifest, out, tables = city
    assert {u.name for u in manifest.units} == UNITS
    assert Manifest.read(out) == manifest
    on_disk = json.loads((out / MANIFEST_NAME).read_text())
    assert on_disk["seed"] == 11 and on_disk["enterprises"] == 3000
    for unit in (manifest.platform, *manifest.units):
        assert len(tables[unit.name]) == unit.rows
        assert tables[unit.name].schema.name == unit.name
    assert invalid_credit_code_positions(list(tables["platform"].ids)) == []


def test_coverage_differs_per_unit_and_units_know_outsiders(city) -> None:
    manifest, _, tables = city
    platform_ids = set(tables["platform"].ids)
    assert len(platform_ids) == manifest.enterprises
    coverage = {name: len(set(t.ids) & platform_ids) / len(platform_ids) for name, t in tables.items() if name in UNITS}
    assert coverage["tax"] > 0.9
    assert 0.05 < coverage["customs"] < 0.3 and 0.1 < coverage["court"] < 0.35
    assert coverage["housing_fund"] < coverage["social_insurance"] < coverage["tax"]
    outsiders = set(tables["tax"].ids) - platform_ids
    assert 0 < len(outsiders) <= manifest.outsiders
    assert all(0 < c < 1 for c in coverage.values())


def test_label_rate_missing_values_and_public_columns(city) -> None:
    manifest, _, tables = city
    label = tables["platform"].frame[LABEL_COLUMN]
    assert set(label.unique()) == {0, 1}
    assert 0.05 <= label.mean() <= 0.12
    assert manifest.default_rate == pytest.approx(label.mean(), abs=1e-6)
    nullable_with_gaps = [
        (name, c.name) for name, t in tables.items() for c in t.schema.columns
        if c.nullable and t.frame[c.name].isna().any()
    ]
    assert len(nullable_with_gaps) >= 6
    public = {name: [c.name for c in t.schema.columns if c.sensitivity is Sensitivity.PUBLIC]
              for name, t in tables.items()}
    assert public["court"] and public["ip"] and "industry" in public["platform"]
    assert "tax_paid" not in public["tax"] and LABEL_COLUMN not in public["platform"]
    industries = tables["platform"].frame["industry"].value_counts(normalize=True)
    assert len(industries) >= 8 and industries.max() < 0.35
    assert tables["platform"].frame["district"].nunique() >= 10


def _features(table: LoadedTable, prefix: str, index: pd.Index) -> pd.DataFrame:
    columns = {}
    for c in table.schema.columns:
        if c.name == LABEL_COLUMN:
            continue
        s = table.frame[c.name]
        if str(s.dtype).startswith("datetime"):
            columns[c.name] = (pd.Timestamp("2025-12-31") - s).dt.days.astype("float64")
        elif isinstance(s.dtype, pd.StringDtype):
            for value in sorted(s.dropna().unique()):
                columns[f"{c.name}={value}"] = (s == value).astype("float64").fillna(0.0)
        else:
            columns[c.name] = s.astype("float64")
    frame = pd.DataFrame(columns, index=table.frame.index).add_prefix(prefix + ".")
    frame[f"{prefix}.known"] = 1.0
    return frame.reindex(index)


def _cv_auc(x: pd.DataFrame, y: np.ndarray) -> float:
    model = make_pipeline(
        FunctionTransformer(lambda a: np.sign(a) * np.log1p(np.abs(a))),  # tame log-normal money columns
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=0.1, max_iter=2000),
    )
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    return roc_auc_score(y, cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1])


def test_joining_units_predicts_clearly_better_than_any_single_unit(city) -> None:
    _, _, tables = city
    index = tables["platform"].ids
    y = tables["platform"].frame[LABEL_COLUMN].astype(int).to_numpy()
    parts = {name: _features(t, name, index) for name, t in tables.items()}
    single = {name: _cv_auc(x, y) for name, x in parts.items()}
    joined = _cv_auc(pd.concat(parts.values(), axis=1), y)
    best = max(single.values())
    print(f"AUC joined {joined:.3f}; single units " + ", ".join(f"{k} {v:.3f}" for k, v in single.items()))
    assert joined > best + 0.04, (joined, single)
    assert 0.55 < best < 0.8 and joined > 0.72


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    a = generate(400, seed=5, out_dir=tmp_path / "a")
    b = generate(400, seed=5, out_dir=tmp_path / "b")
    c = generate(400, seed=6, out_dir=tmp_path / "c")
    assert a == b
    for unit in (a.platform, *a.units):
        assert (tmp_path / "a" / unit.table).read_bytes() == (tmp_path / "b" / unit.table).read_bytes()
    assert a.platform.sha256 != c.platform.sha256


def test_cli_hook_writes_the_city(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="xyd")
    data = parser.add_subparsers(dest="group").add_parser("data").add_subparsers(dest="command")
    register(data)
    args = parser.parse_args(["data", "synth", "--enterprises", "200", "--seed", "3", "--out", str(tmp_path)])
    assert args.func(args) == 0
    assert "200 platform enterprises" in capsys.readouterr().out
    assert Manifest.read(tmp_path).enterprises == 200
    bad = parser.parse_args(["data", "synth", "--enterprises", "0", "--out", str(tmp_path / "x")])
    assert bad.func(bad) == 2


def test_generate_refuses_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(0, seed=1, out_dir=tmp_path)
    with pytest.raises(ValueError):
        generate(10, seed=1, out_dir=tmp_path, default_rate=1.5)


@pytest.mark.slow
def test_hundred_thousand_enterprises_well_under_a_minute(tmp_path: Path) -> None:
    started = time.perf_counter()
    manifest = generate(100_000, seed=2, out_dir=tmp_path)
    seconds = time.perf_counter() - started
    assert manifest.platform.rows == 100_000
    assert seconds < 60, seconds
