"""The platform's audit-log key file: created for a fresh log, required (with what to restore) once the log
holds entries, refused when unreadable; configuration errors reach the operator without a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from consent.audit import AuditEvent, AuditLog, EventKind, open_engine
from platform_node.api.services import load_log_signer
from platform_node.api.settings import ApiSettingsError, settings_from_mapping


def _settings(tmp_path: Path, key: Path):
    return settings_from_mapping({"database_url": f"sqlite:///{tmp_path / 'api.db'}", "log_key_file": str(key)})


def _log(tmp_path: Path) -> AuditLog:
    log = AuditLog(open_engine(f"sqlite:///{tmp_path / 'api.db'}"))
    log.create_schema()
    return log


def test_a_fresh_log_gets_a_new_key_file_once(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "log.key"
    log = _log(tmp_path)
    first = load_log_signer(_settings(tmp_path, key), log)
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    again = load_log_signer(_settings(tmp_path, key), log)
    assert again.verifier().vkey() == first.verifier().vkey()  # read back, not replaced


def test_a_missing_key_for_a_log_with_entries_names_what_to_restore(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with log.engine.begin() as conn:
        log.append(conn, AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                                    authorisation_id="auth-1", use_id="use-1", institution="bank/a",
                                    source_unit="source/tax"))
    key = tmp_path / "log.key"
    with pytest.raises(ApiSettingsError, match=r"log_key_file .*log\.key does not exist.*holds 1 entries.*restore"):
        load_log_signer(_settings(tmp_path, key), log)
    assert not key.exists()  # no new key was made for an existing log


def test_an_unreadable_key_is_refused_with_its_path(tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    key.write_bytes(b"not a key")
    with pytest.raises(ApiSettingsError, match=r"log_key_file .*log\.key cannot be read as an Ed25519 private key"):
        load_log_signer(_settings(tmp_path, key), _log(tmp_path))


def test_a_configuration_error_is_one_line_without_a_traceback(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["platform", "serve", "--config", str(tmp_path / "missing.toml")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"xyd: configuration error: configuration file not found: {tmp_path / 'missing.toml'}")
