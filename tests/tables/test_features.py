"""The online feature index gives exactly what the batch encoder gives, unknown ids included."""

from pathlib import Path

import numpy as np

from sandbox.synthdata import generate
from tables import load_table
from tables.features import FeatureIndex, feature_matrix


def test_feature_index_rows_equal_feature_matrix(tmp_path: Path) -> None:
    manifest = generate(300, 4, tmp_path)
    unit = next(u for u in manifest.units if u.name == "tax")
    table = load_table(tmp_path / unit.schema, tmp_path / unit.table)
    platform = load_table(tmp_path / manifest.platform.schema, tmp_path / manifest.platform.table)
    ids = [str(c) for c in platform.ids][:50] + ["91330100000000000X"] + [str(c) for c in table.ids][:20]
    index = FeatureIndex(table)
    fast, slow = index.rows(ids), feature_matrix(table, rows=ids)
    assert fast.names == slow.names and fast.ids == slow.ids
    assert np.array_equal(fast.values, slow.values, equal_nan=True)
    own = FeatureIndex(platform, exclude=["default"]).rows(ids[:5])
    assert "default" not in own.names and own.values.shape == (5, len(own.names))
