"""The evaluation the platform keeps beside a published model, as the operator's console reads it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.metrics import auc, ks
from platform_node.federation_view import EVALUATION_FILE, read_evaluation
from platform_node.stages.secureboost import EVALUATION_WORK_FILE, add_to_evaluation, write_evaluation


def test_curves_and_contributions_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    pd_ = 1 / (1 + np.exp(-(rng.normal(size=400) + 1.5 * y - 1)))
    work = tmp_path / "jobs" / "job-1"
    work.mkdir(parents=True)
    write_evaluation(work, y, pd_, {"auc_holdout": round(auc(y, pd_), 5), "ks_holdout": round(ks(y, pd_), 5)})
    add_to_evaluation(work, contributions={"source/tax": {"marginal_auc": 0.02, "auc_holdout_without": 0.7}})
    folder = tmp_path / "models" / "sb-job-1"
    folder.mkdir(parents=True)
    (folder / EVALUATION_FILE).write_bytes((work / EVALUATION_WORK_FILE).read_bytes())  # what publish does
    curves = read_evaluation(tmp_path / "models", "sb-job-1")
    assert curves is not None and curves.roc[0] == (0.0, 0.0) and curves.roc[-1] == (1.0, 1.0)
    assert len(curves.ks["share"]) == len(curves.ks["fpr"]) == len(curves.ks["tpr"]) <= 101
    gap = max(abs(t - f) for t, f in zip(curves.ks["tpr"], curves.ks["fpr"], strict=True))
    assert abs(gap - curves.ks_value) < 0.02  # thinned curves keep the KS gap within a point or two
    assert len(curves.pd_quantiles) == 101 and curves.pd_quantiles == sorted(curves.pd_quantiles)
    assert curves.contributions["source/tax"]["marginal_auc"] == 0.02
    for hostile in ("../models", "sb-job-1/../x", ".hidden", ""):
        assert read_evaluation(tmp_path / "models", hostile) is None
    assert read_evaluation(tmp_path / "models", "sb-job-unknown") is None
