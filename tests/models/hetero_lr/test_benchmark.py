"""The hetero-LR benchmark over real processes and mutual TLS, at a small size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmark_cli import run_benchmark

DATA = Path("/work/shared/data/fate")
GUEST, HOST = DATA / "default_credit_hetero_guest.csv", DATA / "default_credit_hetero_host.csv"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_benchmark_trains_over_three_processes() -> None:
    if not (GUEST.exists() and HOST.exists()):
        pytest.skip(f"default_credit data not found under {DATA}")
    result = run_benchmark("hetero_lr", ["--guest", str(GUEST), "--host", str(HOST), "--id-col", "id", "--label-col", "y",
                             "--rows", "3000", "--epochs", "3", "--batch-size", "1000", "--timeout", "180"],
                           timeout=230)
    assert result["rows"] == 3000 and result["variables"] == 23 and result["epochs"] == 3
    assert result["encrypted"] and result["bytes_on_wire"] > 1_000_000
    assert abs(result["auc_train"] - result["auc_sklearn_train"]) < 0.02
    assert result["seconds_per_epoch"] > 0 and result["peak_rss_mb"] > 0
    assert set(result["parties"]) == {"platform/main", "coordinator/main", "source/host0"}
