"""The SecureBoost job's key: 128-bit defaults (3072 bits, exponents of twice the security strength), longer
exponents on request; test-size keys only when the platform's own config allows them, never because the job
file asks."""

from __future__ import annotations

import pytest

from federation.config import NodePolicy
from federation.tasks import TaskFailed
from jobspec import KeyChoice, SettingsError, TrainSettings
from platform_node.stages.secureboost import _secret_key

TESTS = NodePolicy(allow_insecure_keys_for_tests=True)


def test_the_default_key_has_128_bit_security() -> None:
    assert KeyChoice() == TrainSettings.parse({"algorithm": "secureboost"}).key
    assert KeyChoice().key_bits == 3072 and KeyChoice().exponent_bits is None
    secret = _secret_key(KeyChoice(scheme="paillier", key_bits=1024), TESTS)
    assert secret.public.params.exponent_bits == 160  # twice the 80 bits of a test-size key


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_longer_exponents_are_a_job_setting(scheme: str) -> None:
    train = TrainSettings.parse({"algorithm": "secureboost", "scheme": scheme, "key_bits": 1026,
                                 "exponent_bits": 513})
    secret = _secret_key(train.key, TESTS)
    assert not secret.public.params.short_exponents and secret.public.params.exponent_bits == 513


def test_exponents_below_twice_the_security_level_are_refused() -> None:
    with pytest.raises(TaskFailed, match="exponent_bits"):
        _secret_key(KeyChoice(scheme="paillier", key_bits=1024, exponent_bits=159), TESTS)
    with pytest.raises(SettingsError, match="short_exponent_bits"):
        TrainSettings.parse({"algorithm": "secureboost", "short_exponent_bits": 224})


def test_test_size_keys_need_the_nodes_own_policy() -> None:
    with pytest.raises(TaskFailed, match="key_bits"):
        _secret_key(KeyChoice(scheme="paillier", key_bits=1024), NodePolicy())


def test_a_job_file_cannot_switch_security_off() -> None:
    with pytest.raises(SettingsError, match=r"\[policy\] allow_insecure_keys_for_tests"):
        TrainSettings.parse({"algorithm": "secureboost", "key_bits": 1024, "allow_insecure_for_tests": True})
