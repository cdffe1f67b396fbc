"""Parameter objects refuse weak settings unless a test explicitly asks for them."""

from __future__ import annotations

import pytest

from models.he import CkksParams, InsecureParametersError, OUParams, PaillierParams
from models.he.params import factoring_security_bits


def test_paillier_params_refuse_small_keys_without_the_test_flag() -> None:
    with pytest.raises(InsecureParametersError):
        PaillierParams(key_bits=1024)
    assert PaillierParams(key_bits=1024, allow_insecure_for_tests=True).key_bits == 1024
    with pytest.raises(InsecureParametersError):
        PaillierParams(key_bits=256, allow_insecure_for_tests=True)


def test_exponents_default_to_twice_the_security_strength_and_refuse_shorter() -> None:
    for params_type in (PaillierParams, OUParams):
        assert params_type().exponent_bits == 256 and params_type().short_exponents
        assert params_type(key_bits=2048).exponent_bits == 224
        with pytest.raises(InsecureParametersError, match="exponent_bits"):
            params_type(key_bits=2048, exponent_bits=223)
        with pytest.raises(InsecureParametersError, match="exponent_bits"):
            params_type(exponent_bits=255)
        # Half-length exponents (and longer) switch the key owner to exactly uniform CRT exponents.
        assert not params_type(key_bits=2048, exponent_bits=1024).short_exponents
    assert PaillierParams(key_bits=2048, exponent_bits=2048).exponent_bits == 2048


def test_defaults_give_128_bit_security() -> None:
    for params_type in (PaillierParams, OUParams):
        assert params_type().key_bits == 3072 and params_type().security_bits == 128


def test_params_are_frozen() -> None:
    params = PaillierParams()
    with pytest.raises(AttributeError):
        params.key_bits = 1024  # type: ignore[misc]


def test_ou_params_split_the_modulus_in_thirds() -> None:
    assert OUParams().prime_bits == 1024
    assert OUParams(key_bits=2048).prime_bits == 683  # rounded up: n = p^2 q never falls below 2048 bits
    with pytest.raises(InsecureParametersError):
        OUParams(key_bits=1536)


def test_security_strength_follows_the_nist_table() -> None:
    assert factoring_security_bits(2048) == 112
    assert factoring_security_bits(3072) == 128
    assert factoring_security_bits(4096) == 128
    assert PaillierParams(key_bits=2048).security_bits == 112


def test_ckks_default_parameters_are_accepted() -> None:
    params = CkksParams(poly_degree=8192, coeff_bits=(60, 40, 40, 60), scale_bits=40)
    assert params.slots == 4096
    assert params.depth == 2


@pytest.mark.parametrize(
    ("poly_degree", "coeff_bits", "scale_bits"),
    [
        (4096, (60, 40, 40, 60), 40),  # 200 bits > 109 allowed at N=4096: below 128-bit security
        (8192, (60, 40, 40, 40, 40, 60), 40),  # 280 bits > 218
        (3000, (60, 40, 60), 40),  # not a power-of-two ring degree from the table
    ],
)
def test_ckks_parameters_beyond_the_security_table_are_refused(
    poly_degree: int, coeff_bits: tuple[int, ...], scale_bits: int
) -> None:
    with pytest.raises(InsecureParametersError):
        CkksParams(poly_degree=poly_degree, coeff_bits=coeff_bits, scale_bits=scale_bits)


@pytest.mark.parametrize(
    ("coeff_bits", "scale_bits"),
    [((60, 30, 60), 40), ((40, 40, 40), 40), ((60,), 40)],
)
def test_ckks_inconsistent_scale_is_refused(coeff_bits: tuple[int, ...], scale_bits: int) -> None:
    with pytest.raises(ValueError):
        CkksParams(poly_degree=8192, coeff_bits=coeff_bits, scale_bits=scale_bits)
