"""A source node's scoring follows its data: with `[scoring] reload_s` the `[data]` files are re-read when they
change and served as a new snapshot; a file that no longer validates leaves the current snapshot in place.
The settings of `[scoring]` and `[api.privacy]` refuse what they do not know."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from errors import ConfigurationError
from federation.config import NodeConfig, TlsPaths
from platform_node.api.settings import settings_from_mapping
from platform_node.scoring.privacy import PrivacyMode
from sandbox.synthdata import generate
from source_node.node import _reload_scoring_data
from source_node.scoring import PartyScoringServicer
from source_node.scoring_settings import ScoringSettings
from tables import load_table


def _wait_for(condition, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {limit_s} s")
        time.sleep(0.02)


def test_changed_files_are_served_as_a_new_snapshot_and_a_bad_file_is_not(tmp_path: Path) -> None:
    generate(60, 2, tmp_path / "gen")
    for name in ("tax.toml", "tax.csv"):
        shutil.copy(tmp_path / "gen" / name, tmp_path / name)
    config = NodeConfig(listen="127.0.0.1:0", state_dir=tmp_path / "state", tls=TlsPaths(tmp_path, tmp_path, tmp_path),
                        coordinator=None, raw={"data": {"schema": "tax.toml", "table": "tax.csv"}},
                        source=tmp_path / "node.toml")
    first = load_table(tmp_path / "tax.toml", tmp_path / "tax.csv")
    servicer = PartyScoringServicer(first, tmp_path / "models")
    stop = threading.Event()
    reloader = threading.Thread(target=_reload_scoring_data, args=(config, servicer, 0.05, stop))
    reloader.start()
    try:
        frame = pd.read_csv(tmp_path / "tax.csv", dtype=str, keep_default_na=False)
        frame = frame.iloc[: len(frame) - 5]  # five enterprises leave the unit's data
        frame.to_csv(tmp_path / "tax.csv.new", index=False, lineterminator="\n")
        os.replace(tmp_path / "tax.csv.new", tmp_path / "tax.csv")
        _wait_for(lambda: servicer.table.snapshot_sha256 != first.snapshot_sha256, "reloaded")
        assert len(servicer.table) == len(first) - 5
        second = servicer.table.snapshot_sha256
        (tmp_path / "tax.csv").write_text("credit_code\nnot-a-code\n", encoding="utf-8")
        time.sleep(0.5)  # several ticks: the bad file is tried and refused
        assert servicer.table.snapshot_sha256 == second
    finally:
        stop.set()
        reloader.join(timeout=10)


def test_scoring_and_privacy_settings_refuse_what_they_do_not_know() -> None:
    assert ScoringSettings.from_section({"precomputed": True, "max_age_s": 60}).precomputed
    for bad in ({"precompute": True}, {"precomputed": "yes"}, {"max_age_s": 0}, {"reload_s": -1}):
        with pytest.raises(ConfigurationError):
            ScoringSettings.from_section(bad)
    assert settings_from_mapping({"privacy": {"mode": "cover", "cover_k": 9}}).privacy.mode is PrivacyMode.COVER
    assert settings_from_mapping({}).privacy.mode is PrivacyMode.DIRECT
    for bad in ({"mode": "hidden"}, {"cover_k": 0}, {"refresh": 5}, {"refresh_s": 0}):
        with pytest.raises(ConfigurationError):
            settings_from_mapping({"privacy": bad})
