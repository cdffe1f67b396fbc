"""The PSI benchmark runs both parties as separate OS processes over mutual TLS and reports correct JSON."""

from __future__ import annotations

import psutil

from tests.benchmark_cli import ROOT, run_benchmark


def test_two_process_run_reports_the_documented_fields_and_leaves_no_process() -> None:
    result = run_benchmark("psi", ["--rows", "3000", "--overlap", "0.25", "--batch", "700", "--timeout", "120"],
                           timeout=180)
    assert result["rows"] == 3000
    assert result["intersection"] == result["expected_intersection"] == 750
    assert result["correct"] is True
    assert set(result["parties"]) == {"leader", "follower"}
    assert result["seconds"] > 0 and result["rows_per_second"] > 0
    assert result["peak_rss_mb"] == round(sum(p["peak_rss_mb"] for p in result["parties"].values()), 1)
    assert all(p["peak_rss_mb"] > 10 for p in result["parties"].values())
    # Party processes of this checkout only (their working folder is its root): another checkout's benchmark
    # on the same machine is not ours.
    leftovers = [p.pid for p in psutil.process_iter(["cmdline", "cwd"])
                 if "benchmarks._psi_party" in " ".join(p.info["cmdline"] or []) and p.info["cwd"] == str(ROOT)]
    assert not leftovers, f"party processes left behind: {leftovers}"
