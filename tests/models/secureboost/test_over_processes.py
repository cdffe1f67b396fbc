"""Three parties as separate OS processes over mutual-TLS gRPC: PSI, encrypted training, stored parts, scoring."""

from __future__ import annotations

import pytest

from tests.benchmark_cli import run_benchmark
from tests.models.secureboost.support import FATE


@pytest.mark.slow
def test_three_party_encrypted_run_over_real_processes_matches_xgboost() -> None:
    guest, host, mini = (FATE / f"breast_hetero_{n}.csv" for n in ("guest", "host", "mini_host"))
    if not all(p.exists() for p in (guest, host, mini)):
        pytest.skip(f"FATE breast data not found under {FATE}")
    result = run_benchmark("secureboost", ["--guest", str(guest), "--host", str(host), "--host", str(mini), "--trees", "3",
                   "--key-bits", "1024", "--scheme", "paillier", "--timeout", "120"],
                           timeout=240)
    assert result["parties"] == 3 and result["rows"] == 569 and result["trees"] == 3
    assert result["auc_gap"] <= 0.005
    assert result["bytes_on_wire"] > 0 and set(result["peak_rss_mb_by_party"]) == {
        "platform/main", "source/host0", "source/host1"}
