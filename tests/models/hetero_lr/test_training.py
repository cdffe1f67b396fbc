"""Vertical LR end to end in-process: plain = encrypted (tolerance), a numpy reference, scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from models.hetero_lr import ArbiterPolicy, HeteroLrParams, Schedule, sigmoid
from models.metrics import auc
from tests.models.hetero_lr.support import joint_weights, make_split, train

PLAIN = HeteroLrParams(encrypted=False, batch_size=150, max_epochs=4, learning_rate=0.3, momentum=0.9, l2=0.01, tol=0.0)


def _reference(split, params: HeteroLrParams, seed: int) -> np.ndarray:
    """The protocol's arithmetic written out in numpy: linearised residual around the guest's predictor."""
    rng = np.random.default_rng(seed)
    xg, xh = split.guest, np.column_stack(list(split.hosts.values()))
    wg, wh, b = np.zeros(xg.shape[1]), np.zeros(xh.shape[1]), 0.0
    vg, vh, vb = np.zeros_like(wg), np.zeros_like(wh), 0.0
    mu = params.momentum
    for epoch in range(params.max_epochs):
        order = rng.permutation(split.y.size)
        for rows in np.array_split(order, -(-order.size // params.batch_size)):
            ag, ah, ab = wg + mu * vg, wh + mu * vh, b + mu * vb
            a = xg[rows] @ ag + ab
            s = sigmoid(a)
            d = s - split.y[rows] + s * (1 - s) * (xh[rows] @ ah)
            rate = params.rate(epoch)
            vg = mu * vg - rate * (xg[rows].T @ d / rows.size + params.l2 * ag)
            vh = mu * vh - rate * (xh[rows].T @ d / rows.size + params.l2 * ah)
            vb = mu * vb - rate * d.mean()
            wg, wh, b = wg + vg, wh + vh, b + vb
    return np.concatenate([wg, wh, [b]])


def test_plain_mode_matches_a_numpy_reference_exactly() -> None:
    split = make_split()
    trained = train(split, PLAIN, arbiter_policy=ArbiterPolicy(allow_plaintext=True, flood_sigma=0.0), seed=4)
    got = np.append(joint_weights(trained), trained.guest.model.intercept)
    assert np.allclose(got, _reference(split, PLAIN, seed=4), atol=1e-8)
    assert trained.epochs == PLAIN.max_epochs
    assert trained.guest.report.epochs == PLAIN.max_epochs and not trained.guest.report.converged


def test_encrypted_mode_gives_the_plain_weights_up_to_ckks_error() -> None:
    split = make_split()
    plain = train(split, PLAIN, seed=9)
    encrypted = train(split, HeteroLrParams(**{**PLAIN.__dict__, "encrypted": True}), seed=9)
    wp, we = joint_weights(plain), joint_weights(encrypted)
    assert np.max(np.abs(wp - we)) < 1e-3
    assert abs(plain.guest.model.intercept - encrypted.guest.model.intercept) < 1e-3
    assert np.allclose(plain.guest.report.losses, encrypted.guest.report.losses, atol=1e-3)
    # Only ciphertexts travelled between guest and hosts in encrypted mode.
    from federation.proto import hetero_lr_pb2 as pb

    for sender, receiver, tag, payload in encrypted.hub.wire:
        if tag.endswith("/u") or tag.endswith("/d"):
            message = pb.PartialPredictor.FromString(payload) if tag.endswith("/u") else pb.Residual.FromString(payload)
            vector = message.u if tag.endswith("/u") else message.d
            assert vector.chunks and not vector.values, (sender, receiver, tag)


def test_close_to_scikit_learn_on_the_joined_data() -> None:
    split = make_split(n=2000, seed=11)
    l2 = 0.01
    params = HeteroLrParams(encrypted=False, batch_size=200, max_epochs=30, learning_rate=0.2, momentum=0.9,
                            l2=l2, schedule=Schedule.INVERSE_TIME, decay=0.05, tol=0.0)
    trained = train(split, params)
    x = split.joined()
    reference = LogisticRegression(C=1.0 / (l2 * split.y.size), max_iter=1000).fit(x, split.y)
    ours = x @ joint_weights(trained) + trained.guest.model.intercept
    assert abs(auc(split.y, ours) - auc(split.y, reference.decision_function(x))) < 0.005
    assert np.corrcoef(joint_weights(trained), reference.coef_.ravel())[0, 1] > 0.99


def test_loss_decreases_and_early_stopping_reports_convergence() -> None:
    split = make_split()
    params = HeteroLrParams(encrypted=False, batch_size=150, max_epochs=40, learning_rate=0.3, tol=1e-3,
                            patience=2)
    trained = train(split, params)
    report = trained.guest.report
    assert report.converged and report.stop_reason == "converged"
    assert report.epochs < 40 and trained.epochs == report.epochs
    assert report.losses[-1] < report.losses[0] < np.log(2) + 1e-9
    assert report.losses[-1] == pytest.approx(float(np.mean(np.logaddexp(0, -(2 * split.y - 1) * (
        split.joined() @ joint_weights(trained) + trained.guest.model.intercept)))), abs=0.05)


def test_l1_zeroes_weak_weights() -> None:
    split = make_split()
    params = HeteroLrParams(encrypted=False, batch_size=150, max_epochs=10, learning_rate=0.3, momentum=0.0,
                            l1=0.1, tol=0.0)
    weights = joint_weights(train(split, params))
    assert np.sum(weights == 0.0) >= 1
    assert np.sum(weights != 0.0) >= 2


def test_a_guest_with_labels_only_trains_the_hosts_weights() -> None:
    split = make_split()
    labels_only = type(split)(split.y, np.zeros((split.y.size, 0)), split.hosts)
    trained = train(labels_only, HeteroLrParams(encrypted=False, batch_size=150, max_epochs=6, tol=0.0))
    assert trained.guest.model.weights.size == 0
    scores = labels_only.joined() @ joint_weights(trained) + trained.guest.model.intercept
    assert auc(split.y, scores) > 0.6
