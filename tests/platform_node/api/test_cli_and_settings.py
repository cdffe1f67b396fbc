"""`xyd institution ...` and `xyd api serve` through the CLI hook, settings parsing, and docs/API.md."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from platform_node.api.cli import main
from platform_node.api.openapi_doc import DEFAULT_OUTPUT, current_markdown
from platform_node.api.settings import ApiSettingsError, load_settings, settings_from_mapping
from platform_node.uses.deadlines import OverdueAction
from tests.platform_node.world import enterprises, write_scorecard_model

ROOT = Path(__file__).resolve().parents[3]


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "api.toml"
    path.write_text(f'[api]\ndatabase_url = "sqlite:///api.db"\nsecrets_file = "secrets/master.key"\n{extra}',
                    encoding="utf-8")
    return path


def test_institution_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path))
    assert main(["institution", "add", "--config", config, "--kind", "bank", "--slug", "icbc-sz",
                 "--name", "ICBC Shenzhen", "--role", "bank", "--daily-quota", "500"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["institution_id"] == "bank/icbc-sz" and first["api_key"].startswith("xyd.")
    assert (tmp_path / "secrets" / "master.key").stat().st_mode & 0o777 == 0o600
    assert main(["institution", "agreement", "--config", config, "bank/icbc-sz", "--scope", "BULK_SCORING",
                 "--reference", "DSA-1", "--not-before", "2025-01-01T00:00:00Z",
                 "--not-after", "2030-01-01T00:00:00Z"]) == 0
    assert main(["institution", "rotate-key", "--config", config, "bank/icbc-sz"]) == 0
    capsys.readouterr()
    assert main(["institution", "suspend", "--config", config, "bank/icbc-sz"]) == 0
    assert main(["institution", "list", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert "bank/icbc-sz" in listing and "SUSPENDED" in listing and "BULK_SCORING" in listing
    assert "quota 500/day" in listing
    assert main(["institution", "suspend", "--config", config, "bank/nobody"]) == 2
    assert main(["institution", "add", "--config", config, "--kind", "bank", "--slug", "icbc-sz",
                 "--name", "Again", "--role", "bank"]) == 2


def test_settings_parse_nested_tables_and_refuse_typos(tmp_path: Path) -> None:
    path = _config(tmp_path, '[api.overdue]\naction = "BLOCK"\nmax_overdue = 3\n[api.default_limits]\nburst = 7\n')
    settings = load_settings(path)
    assert settings.overdue.action is OverdueAction.BLOCK and settings.default_limits.burst == 7
    assert settings.database_url == f"sqlite:///{tmp_path / 'api.db'}"
    assert settings.secrets_file == tmp_path / "secrets" / "master.key"
    hardened = settings_from_mapping({"webhook_ports": [8443], "trusted_proxies": ["10.0.0.0/8"],
                                      "failed_auth": {"address_burst": 5}, "lookup_watch": {"min_unknown": 9}})
    assert hardened.webhook_policy().ports == (8443,) and hardened.trusted_proxies == ("10.0.0.0/8",)
    assert (hardened.failed_auth.address_burst, hardened.lookup_watch.min_unknown) == (5, 9)
    assert not hardened.allow_insecure_webhooks_for_tests and hardened.max_body_bytes == 65536
    for bad in ({"databse_url": "x"}, {"max_batch": 20_000}, {"overdue": {"acton": "BLOCK"}},
                {"partial_failure_policy": "GUESS"}, {"allow_http_webhooks": True}, {"webhook_ports": [0]},
                {"webhook_ports": []}, {"max_body_bytes": 100}, {"max_body_bytes": 2_000_000},
                {"failed_auth": {"burst": 3}}, {"failed_auth": {"key_per_minute": 0}},
                {"lookup_watch": {"unknown_share": 2}}, {"trusted_proxies": ["proxy.internal"]}):
        with pytest.raises(ApiSettingsError):
            settings_from_mapping(bad)


def test_docs_api_md_is_generated_from_the_current_spec() -> None:
    assert DEFAULT_OUTPUT.exists(), "docs/API.md is missing: run python -m platform_node.api.openapi_doc"
    assert DEFAULT_OUTPUT.read_text(encoding="utf-8") == current_markdown(), (
        "docs/API.md is stale: run python -m platform_node.api.openapi_doc")


def _model_file(tmp_path: Path) -> Path:
    return write_scorecard_model(tmp_path, enterprises(5))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_serve_runs_a_real_server_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, f'port = {port}\nscorer_model_file = "{_model_file(tmp_path)}"\n'
                               'run_ticker = false\n')
    assert main(["institution", "add", "--config", str(config), "--kind", "bank", "--slug", "a", "--name", "A",
                 "--role", "bank"]) == 0
    process = subprocess.Popen([sys.executable, "-m", "platform_node.api.cli", "api", "serve", "--config", str(config)],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        assert answer.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/alerts", timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stderr.close()


def test_api_serve_without_a_scorer_explains_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "serve", "--config", str(_config(tmp_path))]) == 2
    assert "no scorer configured" in capsys.readouterr().err
