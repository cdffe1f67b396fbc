"""The wide synthetic city for scale runs: shapes, determinism, missing values and signal spread over units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.metrics import auc
from sandbox.synthdata.wide import generate_wide


def test_a_wide_city_has_the_asked_shape_and_is_deterministic(tmp_path: Path) -> None:
    city = generate_wide(26_000, 600, 5, tmp_path / "a", sources=2, features=6)  # more than one chunk
    again = generate_wide(26_000, 600, 5, tmp_path / "b", sources=2, features=6)
    platform = pd.read_csv(city.platform)
    assert list(platform.columns[:2]) == ["id", "y"] and len(platform) == 600
    assert platform["id"].is_unique and set(platform["y"]) == {0, 1}
    tables = [pd.read_csv(path) for path in city.sources]
    for k, table in enumerate(tables):
        assert table.shape == (26_000, 7) and table["id"].is_unique
        assert set(platform["id"]) <= set(table["id"])  # every labelled enterprise is known to every unit
        assert 0.02 < table.iloc[:, 1:].isna().to_numpy().mean() < 0.08
        assert list(table.columns[1:]) == [f"s{k}_{j}" for j in range(6)]
    # The same arguments, the same bytes.
    for a, b in zip((city.platform, *city.sources), (again.platform, *again.sources), strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_each_unit_holds_part_of_the_signal(tmp_path: Path) -> None:
    city = generate_wide(6000, 6000, 2, tmp_path, sources=3, features=9)
    y = pd.read_csv(city.platform).set_index("id")["y"]
    aucs = []
    for path in city.sources:
        table = pd.read_csv(path).set_index("id").loc[y.index]
        best = max(abs(auc(y.to_numpy(), -np.nan_to_num(table[c].to_numpy())) - 0.5) + 0.5 for c in table.columns)
        aucs.append(best)
    assert all(0.55 < a < 0.75 for a in aucs), aucs  # informative, none close to the whole story
