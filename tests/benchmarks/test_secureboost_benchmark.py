"""The SecureBoost benchmark per objective: the fields issue 21 names, each party's own cost, XGBoost alongside."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmark_cli import run_benchmark

FATE = Path("/work/shared/data/fate")
PARTIES = {"platform/main", "source/host0"}


@pytest.mark.slow
def test_a_multiclass_run_reports_its_metric_and_every_partys_cost() -> None:
    # One short run (the objectives' numerics are tested in tests/models/secureboost/test_objectives.py).
    objective, scheme, metric = "multiclass", "plain", "auc_ovr_macro"
    guest, host = FATE / "breast_hetero_guest.csv", FATE / "breast_hetero_host.csv"
    if not guest.exists():
        pytest.skip("FATE breast data not found")
    result = run_benchmark("secureboost", ["--guest", str(guest), "--host", str(host), "--trees", "2",
                                           "--scheme", scheme, "--key-bits", "1024", "--objective", objective,
                                           "--timeout", "240"], timeout=300)
    assert result["metric_name"] == metric
    assert result["metric_gap"] == pytest.approx(abs(result["metric_federated"] - result["metric_xgboost"]), abs=1e-6)
    assert result["metric_gap"] <= 0.02
    for field in ("cpu_seconds_by_party", "peak_rss_mb_by_party", "bytes_sent_by_party"):
        assert set(result[field]) == PARTIES, field
    assert all(v > 0 for v in result["bytes_sent_by_party"].values())
    assert result["cpu_seconds_by_party"]["source/host0"]["main"] > 0
