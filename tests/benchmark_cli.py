"""Run a benchmark as its users do, `python -m benchmarks NAME ...`, and read its one JSON result line.

Tests never import `benchmarks`: a benchmark is a program, and its contract is its command line and output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(name: str, args: list[str], *, timeout: float) -> dict[str, Any]:
    """The last stdout line of `python -m benchmarks NAME ARGS`, parsed; fails the test on a non-zero exit."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks", name, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"benchmark {name} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"benchmark {name} printed nothing"
    return json.loads(lines[-1])
