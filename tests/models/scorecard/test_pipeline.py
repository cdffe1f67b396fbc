"""The whole federated scorecard: Paillier WOE binning -> CKKS hetero LR on WOE -> points -> scoring."""

from __future__ import annotations

import numpy as np
import pytest

from federation.channel import InMemoryHub
from models.binning import MergeRule
from models.he import PaillierKeypair, PaillierParams
from models.hetero_lr import (
    ArbiterPolicy,
    HeteroLrParams,
    HostPolicy,
    run_arbiter,
    run_guest,
    run_host,
    sigmoid,
)
from models.metrics import auc
from models.scorecard import (
    PartyScorecard,
    ScorecardParams,
    ScorecardReport,
    TableLookup,
    base_points,
    request_scores,
    serve_points,
)
from models.woe import OwnerPolicy, SelectionRule, WoeOptions, run_feature_owner, run_label_holder, woe_matrix
from tests.models.hetero_lr.support import in_threads

PLATFORM, TAX, ARBITER = "platform/main", "source/tax", "coordinator/main"


def test_federated_scorecard_end_to_end() -> None:
    rng = np.random.default_rng(21)
    n = 1500
    latent = rng.normal(size=n)
    y = (latent + rng.normal(size=n) > 1.0).astype(float)
    platform = {"delay": latent + rng.normal(0, 1.0, n), "age": rng.normal(size=n)}
    tax = {"paid": -latent + rng.normal(0, 1.2, n), "noise": rng.normal(size=n)}
    keys = PaillierKeypair.generate(PaillierParams(key_bits=1024, allow_insecure_for_tests=True))
    hub = InMemoryHub((PLATFORM, TAX, ARBITER))
    options = WoeOptions(n_bins=10, merge=MergeRule(min_bin_fraction=0.05), selection=SelectionRule(min_iv=0.02))
    woe = in_threads({
        "platform": lambda: run_label_holder(hub.channel(PLATFORM), [TAX], labels=y, secret=keys.secret,
                                             options=options, own_features=platform, timeout=60),
        "tax": lambda: run_feature_owner(hub.channel(TAX), PLATFORM, features=tax, categories="tax",
                                         policy=OwnerPolicy(n_bins=10, allow_insecure_for_tests=True), timeout=60),
    }, timeout=90)
    # The pure-noise variables fall below the IV threshold; the informative ones are kept.
    selected = {(r.owner, r.name or r.variable_id) for r in woe["platform"].reports if r.selected}
    assert (PLATFORM, "delay") in selected and (PLATFORM, "age") not in selected
    guest_names, guest_x = woe_matrix(woe["platform"].own, platform)
    host_names, host_x = woe_matrix(woe["tax"].variables, tax)
    assert host_names == ["paid"]
    params = HeteroLrParams(encrypted=True, batch_size=500, max_epochs=8, learning_rate=0.5, tol=0.0)
    lr = in_threads({
        "guest": lambda: run_guest(hub.channel(PLATFORM), [TAX], ARBITER, labels=y, features=guest_x,
                                   variables=guest_names, params=params, timeout=60),
        "host": lambda: run_host(hub.channel(TAX), PLATFORM, ARBITER, features=host_x, variables=host_names,
                                 policy=HostPolicy(), timeout=60),
        "arbiter": lambda: run_arbiter(hub.channel(ARBITER), PLATFORM, [TAX], policy=ArbiterPolicy(), timeout=60),
    }, timeout=120)
    guest_model, host_model = lr["guest"].model, lr["host"]
    assert np.all(guest_model.weights < 0) and np.all(host_model.weights < 0)  # WOE convention: risk falls
    card = ScorecardParams()
    own_card = PartyScorecard.from_model(woe["platform"].own, guest_model, card)
    tax_card = PartyScorecard.from_model(woe["tax"].variables, host_model, card)
    ids = [f"E{i}" for i in range(n)]
    base = base_points(guest_model, card)
    out = in_threads({
        "platform": lambda: request_scores(hub.channel(PLATFORM), [TAX], ids=ids, params=card, base=base,
                                           own=own_card, own_features=platform, batch="eval", timeout=30),
        "tax": lambda: serve_points(hub.channel(TAX), PLATFORM, card=tax_card, lookup=TableLookup(ids, tax),
                                    batch="eval", timeout=30),
    }, timeout=60)
    scores = np.array([s.score for s in out["platform"]])
    probability = sigmoid(guest_x @ guest_model.weights + guest_model.intercept + host_x @ host_model.weights)
    assert np.allclose([s.probability_of_default for s in out["platform"]], probability, atol=1e-9)
    report = ScorecardReport.of(y, scores, reference_scores=scores[: n // 2])
    assert report.discrimination.auc == pytest.approx(auc(y, probability), abs=1e-12)
    assert report.discrimination.auc > 0.75 and report.psi is not None and report.psi < 0.1
    assert all(r.code in {"delay", f"{TAX}:tax"} for s in out["platform"] for r in s.reasons)
