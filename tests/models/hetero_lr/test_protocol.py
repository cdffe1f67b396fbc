"""Hetero-LR protocol properties: refusals, what the arbiter sees, prediction, model round trip."""

from __future__ import annotations

import numpy as np
import pytest

from federation.channel import InMemoryHub
from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr import (
    Arbiter,
    ArbiterPolicy,
    HeteroLrParams,
    HostPolicy,
    HostTrainer,
    InvalidParameterError,
    LrModel,
    MaskSource,
    PlanRefusedError,
    ProtocolError,
    predict_guest,
    serve_predict,
    sigmoid,
)
from models.hetero_lr.local import decode_order, encode_order, split_batches
from tests.models.hetero_lr.support import GUEST, HOSTS, in_threads, joint_weights, make_split, train

SMALL = HeteroLrParams(encrypted=False, batch_size=100, max_epochs=2, tol=0.0)


def test_host_refuses_plaintext_unless_its_policy_allows() -> None:
    with pytest.raises(PlanRefusedError, match="plaintext"):
        train(make_split(), SMALL, host_policy=HostPolicy(allow_plaintext=False, min_batch_size=8), timeout=10)


def test_arbiter_refuses_plaintext_unless_its_policy_allows() -> None:
    with pytest.raises(PlanRefusedError, match="arbiter"):
        train(make_split(), SMALL, arbiter_policy=ArbiterPolicy(allow_plaintext=False), timeout=10)


def test_host_refuses_batches_too_small_for_its_features() -> None:
    params = HeteroLrParams(encrypted=False, batch_size=16, max_epochs=1)
    with pytest.raises(PlanRefusedError, match="too small"):
        train(make_split(), params, host_policy=HostPolicy(allow_plaintext=True, min_batch_size=32), timeout=10)


def test_batches_never_leave_a_tiny_remainder() -> None:
    sizes = [b.size for b in split_batches(np.arange(1001), 100)]
    assert sum(sizes) == 1001 and max(sizes) <= 100 and min(sizes) >= 90
    assert [b.size for b in split_batches(np.arange(101), 100)] == [51, 50]
    order = np.random.default_rng(0).permutation(50)
    assert np.array_equal(decode_order(encode_order(order), 50), order)
    with pytest.raises(ProtocolError):
        decode_order(encode_order(np.zeros(50, dtype=int)), 50)


def test_the_arbiter_only_sees_masked_values() -> None:
    split = make_split()
    params = HeteroLrParams(encrypted=False, batch_size=150, max_epochs=2, tol=0.0, mask_bound=2.0**12)
    trained = train(split, params)
    seen = [pb.MaskedColumns.FromString(p) for _, r, t, p in trained.hub.wire if t.endswith("/columns")]
    assert seen
    for message in seen:
        for column in message.columns:
            values = np.asarray(column.values)
            # True products are O(1); with masks the slots spread over the whole mask range.
            assert np.abs(values).mean() > params.mask_bound / 4


def test_encrypted_columns_decrypt_only_at_the_arbiter() -> None:
    arbiter = Arbiter(ArbiterPolicy(flood_sigma=0.0), masks=MaskSource(np.random.default_rng(0)))
    setup = arbiter.setup(HeteroLrParams(encrypted=True).to_plan(rows=300))
    assert setup.context.context and not setup.refused
    host = HostTrainer(np.ones((300, 2)), policy=HostPolicy(min_batch_size=8))
    host.accept(HeteroLrParams(encrypted=True, batch_size=300).to_plan(rows=300), setup)
    # A public context in a host's hands cannot decrypt: TenSEAL refuses without the secret key.
    vector = host._vectors.encrypt(np.arange(4.0))  # noqa: SLF001 - inspecting the backend on purpose
    with pytest.raises(ValueError):
        vector.chunks[0].decrypt()
    reply = arbiter.answer(pb.MaskedColumns(columns=[host._vectors.to_message(vector)]))  # noqa: SLF001
    assert reply.sums[0] == pytest.approx(6.0, abs=1e-3)
    with pytest.raises(ProtocolError):
        arbiter.answer(pb.MaskedColumns())


def test_distributed_prediction_equals_the_joint_model() -> None:
    split = make_split()
    trained = train(split, HeteroLrParams(encrypted=False, batch_size=150, max_epochs=3, tol=0.0))
    hub = InMemoryHub((GUEST, *HOSTS))
    jobs = {"guest": lambda: predict_guest(hub.channel(GUEST), list(HOSTS), model=trained.guest.model,
                                           features=split.guest[100:300], first_row=100, batch="b1", timeout=10)}
    for name in HOSTS:
        jobs[name] = (lambda name=name: serve_predict(hub.channel(name), GUEST, model=trained.hosts[name],
                                                      features=split.hosts[name], batch="b1", timeout=10))
    probabilities = in_threads(jobs, timeout=20)["guest"]
    expected = sigmoid(split.joined()[100:300] @ joint_weights(trained) + trained.guest.model.intercept)
    assert np.allclose(probabilities, expected, atol=1e-12)


def test_model_parts_round_trip_through_protobuf() -> None:
    model = LrModel(("a", "b"), np.array([0.5, -1.25]), 0.75)
    same = LrModel.from_message(model.to_message(guest=True))
    assert same.variables == model.variables and same.intercept == model.intercept
    assert np.array_equal(same.weights, model.weights)
    back = LrModel.from_message(model.to_message(guest=False))
    assert back.intercept == 0.0 and back.variables == ("a", "b")
    bad = model.to_message(guest=True)
    bad.weights.append(1.0)
    with pytest.raises(ProtocolError):
        LrModel.from_message(bad)


def test_parameters_are_validated() -> None:
    with pytest.raises(InvalidParameterError):
        HeteroLrParams(mask_bound=2.0**30)
    with pytest.raises(InvalidParameterError):
        HeteroLrParams(momentum=1.0)
    plan = HeteroLrParams().to_plan(rows=10)
    plan.format_version = 99
    with pytest.raises(ProtocolError):
        HeteroLrParams.from_plan(plan)
