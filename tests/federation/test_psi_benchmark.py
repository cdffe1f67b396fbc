"""The PSI benchmark runs both parties as separate OS processes over mutual TLS and reports correct JSON."""

from __future__ import annotations

import json

import psutil

from benchmarks import psi


def test_two_process_run_reports_the_documented_fields_and_leaves_no_process() -> None:
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    result = psi.main(["--rows", "3000", "--overlap", "0.25", "--batch", "700", "--timeout", "120"])
    json.dumps(result)  # the runner prints it as one JSON object
    assert result["rows"] == 3000
    assert result["intersection"] == result["expected_intersection"] == 750
    assert result["correct"] is True
    assert set(result["parties"]) == {"leader", "follower"}
    assert result["seconds"] > 0 and result["rows_per_second"] > 0
    assert result["peak_rss_mb"] == round(sum(p["peak_rss_mb"] for p in result["parties"].values()), 1)
    assert all(p["peak_rss_mb"] > 10 for p in result["parties"].values())
    # (multiprocessing's resource tracker, started by an earlier test's worker pool, may predate this run)
    assert {child.pid for child in psutil.Process().children(recursive=True)} <= before
