from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.horizontal import BankKeyring, SealBrokenError
from models.horizontal.errors import InvalidParameterError
from models.horizontal.sealing import binding, open_sealed, seal


def test_keyring_file_round_trips_and_is_owner_only(keyring, tmp_path):
    path = tmp_path / "bank" / "keyring.json"
    keyring.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = BankKeyring.read(path)
    assert loaded.sealing_key == keyring.sealing_key
    assert loaded.ckks.fingerprint() == keyring.ckks.fingerprint()


@pytest.mark.parametrize("mutation", ["format", "sealing_key", "ckks_params"])
def test_a_damaged_keyring_is_refused(keyring, mutation):
    doc = json.loads(keyring.to_bytes())
    doc[mutation] = {"format": "other/1", "sealing_key": "c2hvcnQ=", "ckks_params": {"poly_degree": 5}}[mutation]
    with pytest.raises(InvalidParameterError):
        BankKeyring.from_bytes(json.dumps(doc).encode())


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 2**40), st.integers(0, 1000))
def test_sealed_models_open_only_with_their_binding(payload, run_id, round_number):
    key = bytes(range(32))
    sealed = seal(key, payload, binding(run_id, round_number, "booster"))
    assert open_sealed(key, sealed, binding(run_id, round_number, "booster")) == payload
    with pytest.raises(SealBrokenError):
        open_sealed(key, sealed, binding(run_id, round_number + 1, "booster"))
    with pytest.raises(SealBrokenError):
        open_sealed(key, sealed, binding(run_id + 1, round_number, "booster"))


def test_tampering_or_a_wrong_key_breaks_the_seal():
    key, other = bytes(32), bytes([1] * 32)
    aad = binding(1, 1, "booster")
    sealed = bytearray(seal(key, b"model bytes", aad))
    with pytest.raises(SealBrokenError):
        open_sealed(other, bytes(sealed), aad)
    sealed[-1] ^= 1
    with pytest.raises(SealBrokenError):
        open_sealed(key, bytes(sealed), aad)
    with pytest.raises(SealBrokenError):
        open_sealed(key, b"short", aad)


def test_every_seal_uses_a_fresh_nonce():
    key, aad = bytes(32), binding(1, 1, "booster")
    assert seal(key, b"same", aad) != seal(key, b"same", aad)
    fixed = seal(key, b"same", aad, nonce_source=lambda n: bytes(n))
    assert fixed[:12] == bytes(12)
