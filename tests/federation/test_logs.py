"""Structured logs: one JSON object per line, ISO 8601 UTC times, and a rotated file when configured."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from federation.config import load_node_config
from federation.logs import configure_node_logging, iso_utc


def test_times_are_iso_8601_utc_with_milliseconds() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(1_764_862_801.1234) == "2025-12-04T15:40:01.123Z"


def test_a_node_logs_to_its_configured_file_and_rotates_it(tmp_path: Path) -> None:
    config_file = tmp_path / "node.toml"
    config_file.write_text('[node]\nstate_dir = "state"\nlog_file = "logs/node.log"\nlog_max_mb = 0.001\n'
                           'log_backups = 2\n[tls]\nca = "ca.pem"\ncert = "c.pem"\nkey = "k.pem"\n')
    config = load_node_config(config_file, env={})
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_node_logging("source/tax", config)
        for i in range(200):
            logging.getLogger("xyd.test").info("line", extra={"i": i})
        for handler in root.handlers:
            handler.flush()
        files = sorted((tmp_path / "logs").iterdir())
        assert [f.name for f in files] == ["node.log", "node.log.1", "node.log.2"]
        last = json.loads(files[0].read_text().splitlines()[-1])
        assert last["party"] == "source/tax" and last["i"] == 199 and last["ts"].endswith("Z")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
