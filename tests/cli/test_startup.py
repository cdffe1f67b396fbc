"""`xyd` starts in a fraction of a second: building its parser, for `--help` and to find any subcommand,
imports none of the heavy libraries the handlers use (checked by what is loaded, not by timing)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "sqlalchemy", "fastapi", "xgboost", "sklearn", "grpc", "flwr", "tenseal", "phe")


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = ("import json, sys, cli.main; cli.main.build_parser(); "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_an_invalid_choice_still_lists_the_valid_ones() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "institution", "add", "--config", "x", "--kind", "nope",
                           "--slug", "a", "--name", "b", "--role", "bank"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "'bank'" in proc.stderr and "invalid choice" in proc.stderr
