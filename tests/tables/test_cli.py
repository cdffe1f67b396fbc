"""`xyd source validate` prints a summary on success and the problems (exit 1) on failure."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tables.cli import main, register
from tests.tables.conftest import make_frame, write_csv

REPO = Path(__file__).resolve().parents[3]


def test_validate_ok_prints_summary(schema_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(make_frame(rows=12), tmp_path / "tax.csv")
    assert main(["validate", "--schema", str(schema_path), "--table", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "12 rows" in out and "snapshot sha256" in out
    assert main(["validate", "--schema", str(schema_path), "--table", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["quality"]["rows"] == 12 and summary["published_schema"]["table"] == "tax"


def test_validate_error_exits_nonzero(schema_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_frame(rows=12)
    frame.loc[4, "employees"] = "-3"
    path = write_csv(frame, tmp_path / "tax.csv")
    assert main(["validate", "--schema", str(schema_path), "--table", str(path)]) == 1
    captured = capsys.readouterr()
    # The value must not be echoed; the file's path (a pytest temp dir such as pytest-331) may contain "-3".
    message = captured.err.replace(str(path), "<table>")
    assert "out_of_range" in message and "row 5" in message and "-3" not in message
    assert captured.out == ""


def test_register_adds_validate_to_a_command_group(schema_path: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="xyd")
    source = parser.add_subparsers(dest="role").add_parser("source").add_subparsers(dest="command")
    register(source)
    args = parser.parse_args(["source", "validate", "--schema", str(schema_path), "--table", "x.csv"])
    assert args.func.__name__ == "run_validate" and args.table == "x.csv"


def test_module_entry_point_exit_code(schema_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "tables.cli", "validate", "--schema", str(schema_path), "--table", str(path)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert result.returncode == 1
    assert "empty_file" in result.stderr and "Traceback" not in result.stderr
