"""The federated binning protocol in-process: exact encrypted counts, WOE/IV, ranking views, noise."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from federation.channel import InMemoryHub
from federation.proto import woe_pb2
from models.binning import MergeRule, Monotonicity, VariableBins
from models.he import (
    CipherVector,
    Decryptor,
    Encryptor,
    InlineObfuscators,
    InsecureParametersError,
    PaillierKeypair,
    cipher_vector_from_message,
)
from models.woe import (
    OwnerPolicy,
    SelectionRule,
    WoeFeatureOwner,
    WoeLabelHolder,
    WoeOptions,
    run_feature_owner,
    run_label_holder,
    woe_matrix,
    woe_table,
)

PLATFORM, TAX = "platform/main", "source/tax"
TEST_POLICY = OwnerPolicy(n_bins=8, allow_insecure_for_tests=True)
NO_MERGE = MergeRule(Monotonicity.NONE, min_bin_fraction=0.0, min_bin_rows=0)


def _in_threads(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            results[name] = job()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def _steps(keys: PaillierKeypair, y: np.ndarray, tax: dict[str, np.ndarray], policy: OwnerPolicy = TEST_POLICY,
           options: WoeOptions = WoeOptions(merge=NO_MERGE)) -> tuple[WoeLabelHolder, WoeFeatureOwner, Any]:  # noqa: B008
    holder = WoeLabelHolder(PLATFORM, y, options)
    encryptor = Encryptor(keys.public, InlineObfuscators(keys.secret.obfuscator_source()))
    setup, chunks = holder.setup_messages(encryptor, chunk_rows=300)
    owner = WoeFeatureOwner(TAX, tax, categories="tax", policy=policy, rng=np.random.default_rng(1))
    message = owner.count(setup, chunks)
    holder.absorb_counts(TAX, message, keys.public, Decryptor(keys.secret))
    return holder, owner, message


def test_encrypted_bin_counts_equal_the_plaintext_counts(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    holder, _, message = _steps(paillier_1024, y, tax)
    counts = holder.fine_counts()
    for k, (name, values) in enumerate(tax.items()):
        bins = VariableBins.quantile(values, TEST_POLICY.n_bins)
        index = bins.assign(values)
        events, totals = counts[(TAX, f"v{k}")]
        assert events.tolist() == np.bincount(index, weights=y, minlength=bins.n_bins).tolist(), name
        assert totals.tolist() == np.bincount(index, minlength=bins.n_bins).tolist(), name
    assert not message.noised
    assert all(v.name == "" for v in message.variables)  # names stay private by default
    assert message.variables[2].has_missing


def test_returned_sums_are_rerandomised(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    holder = WoeLabelHolder(PLATFORM, y, WoeOptions())
    encryptor = Encryptor(paillier_1024.public, InlineObfuscators(paillier_1024.secret.obfuscator_source()))
    setup, chunks = holder.setup_messages(encryptor)
    owner = WoeFeatureOwner(TAX, {"tax_paid": tax["tax_paid"]}, categories="tax", policy=TEST_POLICY)
    message = owner.count(setup, chunks)
    labels = CipherVector.concat([cipher_vector_from_message(c.labels, paillier_1024.public) for c in chunks])
    index = VariableBins.quantile(tax["tax_paid"], TEST_POLICY.n_bins).assign(tax["tax_paid"])
    bare = labels.bucket_sum(index, int(index.max()) + 1).pack()
    sent = cipher_vector_from_message(message.events, paillier_1024.public)
    decryptor = Decryptor(paillier_1024.secret)
    assert decryptor.decrypt(sent).tolist() == decryptor.decrypt(bare).tolist()
    assert set(sent.ciphertexts).isdisjoint(bare.ciphertexts)


def test_noise_moves_counts_by_bounded_amounts(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    exact, _, _ = _steps(paillier_1024, y, tax)
    policy = OwnerPolicy(n_bins=8, noise_epsilon=0.5, allow_insecure_for_tests=True)
    noisy, _, message = _steps(paillier_1024, y, tax, policy)
    assert message.noised
    moved = [np.abs(noisy.fine_counts()[k][0] - exact.fine_counts()[k][0]) for k in exact.fine_counts()]
    assert sum(float(m.sum()) for m in moved) > 0
    assert max(float(m.max()) for m in moved) <= y.size


def test_small_keys_are_refused_without_the_test_flag(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    with pytest.raises(InsecureParametersError):
        _steps(paillier_1024, y, tax, OwnerPolicy(n_bins=8))


def test_full_protocol_woe_iv_ranking_and_views(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, platform, tax = credit_like
    hub = InMemoryHub((PLATFORM, TAX))
    options = WoeOptions(n_bins=8, selection=SelectionRule(min_iv=0.02, top_k=3))
    out = _in_threads({
        "holder": lambda: run_label_holder(hub.channel(PLATFORM), [TAX], labels=y, secret=paillier_1024.secret,
                                           options=options, own_features=platform, timeout=60),
        "owner": lambda: run_feature_owner(hub.channel(TAX), PLATFORM, features=tax, categories="tax",
                                           policy=TEST_POLICY, timeout=60),
    })
    holder, owner = out["holder"], out["owner"]
    # The platform's WOE of a source variable equals a plaintext computation on the merged bins.
    merged = {v.name: v for v in owner.variables}
    for report in holder.reports:
        if report.owner != TAX:
            continue
        variable = next(v for v in owner.variables if v.variable_id == report.variable_id)
        index = variable.bins.assign(tax[variable.name])
        reference = woe_table(np.bincount(index, weights=y, minlength=variable.bins.n_bins),
                              np.bincount(index, minlength=variable.bins.n_bins))
        assert np.allclose(report.table.woe, reference.woe, atol=1e-12)
        assert report.iv == pytest.approx(reference.iv, abs=1e-12)
        assert np.allclose(variable.woe, reference.woe, atol=1e-12)  # shared with the owner
        # Default merging enforces a monotone event rate over the value bins.
        value_bins = variable.bins.value_bins
        rates = np.diff(report.table.event_rates[:value_bins])
        assert np.all(rates >= -1e-12) or np.all(rates <= -0.0 + 1e-12)
    # The strongest variables rank first and at most top_k are selected.
    ivs = [r.iv for r in holder.reports]
    assert ivs == sorted(ivs, reverse=True)
    assert sum(r.selected for r in holder.reports) <= 3
    assert {r.name for r in holder.reports if r.owner == TAX} == {None}  # no names published
    # Views: the owner sees its own names, everyone else's entries are opaque.
    own = [e for e in owner.ranking if e.own]
    assert {e.variable for e in own} == set(tax)
    assert all(e.variable.startswith("rank-") for e in owner.ranking if not e.own)
    tax_view = holder.view(TAX)
    assert all(e.variable.startswith("rank-") for e in tax_view if not e.own)
    names, matrix = woe_matrix(owner.variables, tax)
    assert matrix.shape == (y.size, len(names)) and set(names) <= set(merged)


def test_published_names_reach_the_ranking(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    policy = OwnerPolicy(n_bins=8, publish_names=True, allow_insecure_for_tests=True)
    holder, _, message = _steps(paillier_1024, y, tax, policy)
    reports, ranking = holder.finish()
    assert {r.name for r in reports} == set(tax)
    assert all(v.name for v in message.variables)
    view = [e.variable for e in holder.outcome_for("source/other", reports, ranking).ranking]
    assert all(v.startswith(f"{TAX}:") for v in view)


def test_woe_is_withheld_when_the_job_does_not_share_it(paillier_1024: PaillierKeypair, credit_like) -> None:
    y, _, tax = credit_like
    holder, owner, _ = _steps(paillier_1024, y, tax, options=WoeOptions(share_woe=False))
    reports, ranking = holder.finish()
    outcome = holder.outcome_for(TAX, reports, ranking)
    assert all(len(v.woe) == 0 for v in outcome.variables)
    result = owner.absorb(outcome)
    assert all(v.woe is None for v in result.variables)
    assert isinstance(outcome, woe_pb2.BinningOutcome)
