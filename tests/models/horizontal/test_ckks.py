from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts
from hypothesis import given, settings
from hypothesis import strategies as st

from models.he.ckks import CkksParams
from models.he.errors import InsecureParametersError
from models.horizontal import AggregatorCkks, BankCkks, BankKeyring, KeyMismatchError, SecretKeyExposedError
from models.horizontal.aggregation import agree_on_key
from models.horizontal.ckks import HORIZONTAL_CKKS, max_abs_value
from models.horizontal.errors import InvalidParameterError


def test_default_parameters_sit_within_the_128_bit_table():
    assert sum(HORIZONTAL_CKKS.coeff_bits) <= 109 and HORIZONTAL_CKKS.poly_degree == 4096
    with pytest.raises(InsecureParametersError):
        CkksParams(poly_degree=4096, coeff_bits=(60, 50), scale_bits=30)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.floats(-1e5, 1e5), min_size=7, max_size=7), min_size=2, max_size=4))
def test_aggregator_sum_decrypts_to_the_plain_sum(keyring, vectors):
    ckks = keyring.ckks
    aggregator = AggregatorCkks(ckks.aggregator_context())
    total = aggregator.add([ckks.encrypt(np.array(v)) for v in vectors])
    assert np.allclose(ckks.decrypt(total)[:7], np.sum(vectors, axis=0), atol=1e-3)


def test_aggregator_context_carries_no_key_and_cannot_decrypt(keyring):
    ckks = keyring.ckks
    context_bytes = ckks.aggregator_context()
    context = ts.context_from(context_bytes)
    assert not context.has_secret_key() and not context.has_public_key()
    blob = ckks.encrypt(np.arange(5.0))
    with pytest.raises(ValueError):
        ts.ckks_vector_from(context, blob).decrypt()


def test_aggregator_refuses_a_context_with_the_secret_key(keyring):
    with pytest.raises(SecretKeyExposedError):
        AggregatorCkks(keyring.ckks.secret_bytes())


def test_banks_sharing_the_keyring_agree_and_strangers_do_not(keyring):
    copy = BankKeyring.from_bytes(keyring.to_bytes())
    stranger = BankKeyring.generate()
    assert agree_on_key([keyring.ckks.fingerprint(), copy.ckks.fingerprint()]) == keyring.ckks.fingerprint()
    with pytest.raises(KeyMismatchError):
        agree_on_key([keyring.ckks.fingerprint(), stranger.ckks.fingerprint()])
    values = np.array([1.0, 2.0, 3.0])
    assert np.allclose(copy.ckks.decrypt(keyring.ckks.encrypt(values))[:3], values, atol=1e-6)
    assert not np.allclose(stranger.ckks.decrypt(keyring.ckks.encrypt(values))[:3], values, atol=1.0)


def test_values_that_would_wrap_the_modulus_are_refused(keyring):
    with pytest.raises(InvalidParameterError):
        keyring.ckks.encrypt(np.array([max_abs_value(HORIZONTAL_CKKS)]))
    with pytest.raises(InvalidParameterError):
        keyring.ckks.encrypt(np.array([np.nan]))
    with pytest.raises(InvalidParameterError):
        keyring.ckks.encrypt(np.zeros(HORIZONTAL_CKKS.slots + 1))


def test_a_context_without_secret_key_is_not_a_bank_key(keyring):
    with pytest.raises(InvalidParameterError):
        BankCkks.from_bytes(keyring.ckks.aggregator_context(), HORIZONTAL_CKKS)
