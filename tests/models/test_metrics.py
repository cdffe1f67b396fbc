"""AUC, KS, Gini and PSI against scikit-learn and first-principles definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

from models.metrics import DiscriminationReport, MetricError, auc, gini, ks, or_nan, psi, weighted_mean


def _sample(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    y[:2] = [0.0, 1.0]
    scores = np.round(y * 0.8 + rng.normal(size=n), 1)  # rounding makes ties
    return y, scores


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_auc_and_ks_match_scikit_learn_with_ties(seed: int) -> None:
    y, s = _sample(seed)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s)
    assert ks(y, s) == pytest.approx(float(np.max(tpr - fpr)), abs=1e-12)
    assert gini(y, s) == pytest.approx(2 * roc_auc_score(y, s) - 1, abs=1e-12)


def test_perfect_and_inverted_rankings() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(y, np.zeros(4)) == 0.5
    assert ks(y, np.zeros(4)) == 0.0


def test_one_class_is_refused() -> None:
    with pytest.raises(MetricError):
        auc(np.ones(5), np.arange(5.0))
    with pytest.raises(MetricError):
        ks(np.array([0, 2]), np.arange(2.0))


def test_psi_is_zero_for_the_same_population_and_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=20_000)
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    small = psi(base, rng.normal(0.1, 1.0, 20_000))
    large = psi(base, rng.normal(1.0, 1.0, 20_000))
    assert 0.0 < small < 0.1 < 0.25 < large


def test_psi_matches_the_formula_on_hand_counted_bins() -> None:
    expected = np.repeat([1.0, 2.0, 3.0, 4.0], 25)  # quartiles split exactly at the four values
    actual = np.repeat([1.0, 2.0, 3.0, 4.0], [40, 30, 20, 10])
    e, a = np.full(4, 0.25), np.array([0.4, 0.3, 0.2, 0.1])
    assert psi(expected, actual, bins=4) == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=1e-12)


def test_report_gathers_the_figures() -> None:
    y, s = _sample(7)
    report = DiscriminationReport.of(y, s)
    assert report.rows == y.size
    assert report.default_rate == pytest.approx(y.mean())
    assert report.gini == pytest.approx(2 * report.auc - 1)
    assert report.ks == pytest.approx(ks(y, s))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60))
def test_auc_agrees_with_scikit_learn_including_ties(pairs):
    labels = np.array([p[0] for p in pairs])
    scores = np.array([p[1] for p in pairs], dtype=float)
    if len(set(labels)) < 2:
        assert np.isnan(or_nan(auc, labels, scores))
        assert np.isnan(or_nan(ks, labels, scores))
    else:
        assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_ks_and_weighted_mean():
    labels = np.array([0, 0, 1, 1])
    assert ks(labels, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert ks(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0
    assert ks(labels, np.array([0.1, 0.9, 0.2, 0.8])) == pytest.approx(0.5)
    assert weighted_mean([0.7, float("nan"), 0.9], [1.0, 5.0, 3.0]) == pytest.approx(0.85)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_rank_curves_agree_with_scikit_learn_and_ks(seed: int) -> None:
    from models.metrics import rank_curves

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    y[:2] = [0, 1]
    s = np.round(rng.normal(size=300) + y, 1)  # ties included
    curves = rank_curves(y, s, max_points=10_000)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(curves.fpr, fpr) and np.allclose(curves.tpr, tpr)
    assert max(abs(t - f) for t, f in zip(curves.tpr, curves.fpr, strict=True)) == pytest.approx(ks(y, s))
    thin = rank_curves(y, s, max_points=11)
    assert len(thin.share) <= 11 and thin.share[0] == 0.0 and thin.share[-1] == 1.0
    assert list(thin.fpr) == sorted(thin.fpr) and list(thin.tpr) == sorted(thin.tpr)
