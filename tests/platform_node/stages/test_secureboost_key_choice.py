"""The SecureBoost job's key: full-length obfuscator exponents unless [train] opts in to short ones; test-size
keys only when the platform's own config allows them, never because the job file asks."""

from __future__ import annotations

import pytest

from federation.config import NodePolicy
from federation.tasks import TaskFailed
from jobspec import KeyChoice, SettingsError, TrainSettings
from platform_node.stages.secureboost import _secret_key

TESTS = NodePolicy(allow_insecure_keys_for_tests=True)


def test_the_default_key_uses_full_length_exponents() -> None:
    secret = _secret_key(KeyChoice(scheme="paillier", key_bits=1024), TESTS)
    assert not secret.public.params.short_exponents


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_short_exponents_are_an_explicit_job_setting(scheme: str, caplog: pytest.LogCaptureFixture) -> None:
    train = TrainSettings.parse({"algorithm": "secureboost", "scheme": scheme, "key_bits": 1024,
                                 "short_exponent_bits": 160})
    secret = _secret_key(train.key, TESTS)
    assert secret.public.params.short_exponents and secret.public.params.exponent_bits == 160
    assert "short obfuscator exponents opted in" in caplog.text


def test_exponents_below_twice_the_security_level_are_refused() -> None:
    with pytest.raises(TaskFailed, match="exponent_bits"):
        _secret_key(KeyChoice(scheme="paillier", key_bits=1024, short_exponent_bits=64), TESTS)


def test_test_size_keys_need_the_nodes_own_policy() -> None:
    with pytest.raises(TaskFailed, match="key_bits"):
        _secret_key(KeyChoice(scheme="paillier", key_bits=1024), NodePolicy())


def test_a_job_file_cannot_switch_security_off() -> None:
    with pytest.raises(SettingsError, match=r"\[policy\] allow_insecure_keys_for_tests"):
        TrainSettings.parse({"algorithm": "secureboost", "key_bits": 1024, "allow_insecure_for_tests": True})
