"""The SecureBoost job's key: full-length obfuscator exponents unless [train] opts in to short ones."""

from __future__ import annotations

import pytest

from federation.tasks import TaskFailed
from platform_node.stages.secureboost import _secret_key, secureboost_params


def test_the_default_key_uses_full_length_exponents() -> None:
    secret = _secret_key({"scheme": "paillier", "key_bits": 1024, "allow_insecure_for_tests": True})
    assert not secret.public.params.short_exponents


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_short_exponents_are_an_explicit_job_setting(scheme: str, caplog: pytest.LogCaptureFixture) -> None:
    train = {"scheme": scheme, "key_bits": 1024, "allow_insecure_for_tests": True, "short_exponent_bits": 160}
    secureboost_params(train)  # a known [train] key
    secret = _secret_key(train)
    assert secret.public.params.short_exponents and secret.public.params.exponent_bits == 160
    assert "short obfuscator exponents opted in" in caplog.text


def test_exponents_below_twice_the_security_level_are_refused() -> None:
    with pytest.raises(TaskFailed, match="exponent_bits"):
        _secret_key({"scheme": "paillier", "key_bits": 1024, "allow_insecure_for_tests": True,
                     "short_exponent_bits": 64})
