from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.horizontal import DpConfig, PrivacyBudgetExceededError, epsilon_for
from models.horizontal.errors import InvalidParameterError
from models.horizontal.privacy import check_budget, clip_rows, rdp_to_epsilon, sampled_gaussian_rdp


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def exact_gaussian_delta(epsilon: float, sigma: float) -> float:
    """Balle & Wang 2018, Theorem 8: the tight delta of one Gaussian release with sensitivity 1."""
    return _phi(1 / (2 * sigma) - epsilon * sigma) - math.exp(epsilon) * _phi(-1 / (2 * sigma) - epsilon * sigma)


@pytest.mark.parametrize("sigma", [0.8, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("order", [2, 7, 32])
def test_without_sampling_rdp_is_that_of_the_gaussian_mechanism(sigma, order):
    assert sampled_gaussian_rdp(1.0, sigma, order) == pytest.approx(order / (2 * sigma**2))


@pytest.mark.parametrize("q", [0.001, 0.01, 0.3, 0.9])
@pytest.mark.parametrize("sigma", [0.7, 1.0, 3.0])
def test_order_two_matches_its_closed_form(q, sigma):
    # A_2 = (1-q)^2 + 2q(1-q) + q^2 e^(1/sigma^2) = 1 + q^2 (e^(1/sigma^2) - 1)
    assert sampled_gaussian_rdp(q, sigma, 2) == pytest.approx(math.log1p(q * q * math.expm1(1 / sigma**2)))


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.0, 4.0])
def test_epsilon_is_a_sound_bound_for_one_gaussian_release(sigma):
    delta = 1e-5
    eps = epsilon_for(1.0, sigma, 1, delta)
    assert exact_gaussian_delta(eps, sigma) <= delta
    # and not absurdly loose: the tight epsilon is at least half of it
    assert exact_gaussian_delta(eps / 2, sigma) > delta


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-3, 1.0), st.floats(0.5, 8.0), st.integers(1, 5000))
def test_epsilon_grows_with_steps_and_shrinks_with_noise(q, sigma, steps):
    base = epsilon_for(q, sigma, steps, 1e-5)
    assert epsilon_for(q, sigma, steps * 2, 1e-5) >= base
    assert epsilon_for(q, sigma * 1.5, steps, 1e-5) <= base + 1e-12
    assert sampled_gaussian_rdp(q, sigma, 8) <= 8 / (2 * sigma**2) + 1e-12  # sampling never hurts


def test_conversion_is_no_worse_than_the_classic_bound():
    rdp = {a: 0.05 * a for a in range(2, 40)}
    eps, order = rdp_to_epsilon(rdp, 1e-5)
    classic = min(r + math.log(1e5) / (a - 1) for a, r in rdp.items())
    assert eps <= classic and order in rdp


def test_zero_steps_spend_nothing_and_the_limit_is_enforced():
    assert epsilon_for(0.01, 1.0, 0, 1e-5) == 0.0
    config = DpConfig(noise_multiplier=1.0, max_epsilon=3.0)
    assert check_budget(config, 0.01, 10) < 3.0
    with pytest.raises(PrivacyBudgetExceededError) as err:
        check_budget(config, 0.01, 50_000)
    assert err.value.projected > err.value.limit == 3.0


@pytest.mark.parametrize("kwargs", [{"noise_multiplier": 0.0}, {"noise_multiplier": 1.0, "clip_norm": -1},
                                    {"noise_multiplier": 1.0, "delta": 1.0}])
def test_invalid_dp_settings_are_refused(kwargs):
    with pytest.raises(InvalidParameterError):
        DpConfig(**kwargs)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.floats(0.01, 10.0))
def test_clipped_rows_never_exceed_the_clip_norm(rows, cols, clip):
    g = np.random.default_rng(rows * cols).normal(scale=5.0, size=(rows, cols))
    clipped = clip_rows(g, clip)
    norms = np.linalg.norm(clipped, axis=1)
    assert np.all(norms <= clip * (1 + 1e-9))
    small = np.linalg.norm(g, axis=1) <= clip
    assert np.allclose(clipped[small], g[small])
