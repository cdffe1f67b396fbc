"""Protocol steps in isolation, refusals, and what crosses the wire."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from federation.channel import InMemoryHub
from federation.proto import secureboost_pb2 as pb
from models.he import InsecureParametersError
from models.secureboost import (
    ActiveTrainer,
    HeEncryptor,
    PassiveTrainer,
    PlainEncryptor,
    PlainEvaluator,
    PlaintextRefusedError,
    ProtocolError,
    SecureBoostParams,
    run_passive,
)
from models.secureboost.fixed_point import PackingLayout
from models.secureboost.local import train_in_process
from models.secureboost.runner import Tags
from models.secureboost.tree import left, right
from tests.models.secureboost.support import synthetic


def _steps(n: int = 300):
    y, active, passives = synthetic(n, seed=1)
    params = SecureBoostParams(n_trees=1, max_depth=2, bins=8, encryption=False)
    trainer = ActiveTrainer(params, y, active, PlainEncryptor(), ["source/tax"])
    passive = PassiveTrainer("source/tax", passives["source/tax"], trainer.setup(), PlainEvaluator())
    return trainer, passive


def _start(trainer: ActiveTrainer, passive: PassiveTrainer) -> None:
    start, chunks = trainer.start_tree()
    evaluator = PlainEvaluator()
    layout = PackingLayout.from_proto(start.layout)
    passive.start_tree(start, evaluator.concat([evaluator.load(c.data, c.count, layout) for c in chunks]))


def test_pure_steps_sum_the_smaller_child_and_derive_the_larger() -> None:
    trainer, passive = _steps()
    _start(trainer, passive)
    plan = trainer.plan_depth()
    assert (list(plan.build), list(plan.derive), list(plan.report)) == ([0], [], [0])
    requests = trainer.absorb_histograms({"source/tax": passive.build_histograms(plan)})
    trainer.absorb_partitions({"source/tax": passive.apply_split(requests["source/tax"])})
    plan = trainer.plan_depth()
    assert len(plan.partitions) == 1 and plan.partitions[0].node == 0
    assert sorted([*plan.build, *plan.derive]) == [left(0), right(0)]
    assert len(plan.build) == 1 and len(plan.derive) == 1
    bits = np.unpackbits(np.frombuffer(plan.partitions[0].left, np.uint8))[:300]
    smaller = left(0) if bits.sum() <= 300 - bits.sum() else right(0)
    assert plan.build[0] == smaller


def test_an_offered_split_id_is_the_only_one_accepted() -> None:
    trainer, passive = _steps()
    _start(trainer, passive)
    passive.build_histograms(trainer.plan_depth())
    forged = pb.SplitRequest(tree=0, depth=0)
    forged.splits.add(node=0, split_id=12345)
    with pytest.raises(ProtocolError):
        passive.apply_split(forged)


def test_a_reply_for_the_wrong_nodes_is_refused() -> None:
    trainer, passive = _steps()
    _start(trainer, passive)
    reply = passive.build_histograms(trainer.plan_depth())
    reply.nodes[0].node = 3
    with pytest.raises(ProtocolError):
        trainer.absorb_histograms({"source/tax": reply})


def test_a_passive_party_refuses_plain_gradients_unless_its_policy_allows() -> None:
    hub = InMemoryHub(("platform/main", "source/tax"))
    setup = pb.TrainSetup(format_version=1, scheme="plain", capacity_bits=2046, n_rows=3, n_trees=1, max_depth=1,
                          bins=4, colsample_bytree=1.0)
    hub.channel("platform/main").send("source/tax", Tags.SETUP, setup)
    _, _, passives = synthetic(3, seed=0)
    with pytest.raises(PlaintextRefusedError):
        run_passive(hub.channel("source/tax"), "platform/main", features=passives["source/tax"], timeout=5)


def test_a_passive_party_refuses_a_weak_key_outside_tests(paillier_1024) -> None:
    hub = InMemoryHub(("platform/main", "source/tax"))
    encryptor = HeEncryptor(paillier_1024.secret)
    setup = pb.TrainSetup(format_version=1, scheme="paillier", public_key=encryptor.public_bytes(),
                          capacity_bits=encryptor.capacity_bits, n_rows=3, n_trees=1, max_depth=1, bins=4,
                          colsample_bytree=1.0)
    hub.channel("platform/main").send("source/tax", Tags.SETUP, setup)
    _, _, passives = synthetic(3, seed=0)
    with pytest.raises(InsecureParametersError):
        run_passive(hub.channel("source/tax"), "platform/main", features=passives["source/tax"], timeout=5)


def test_passive_replies_carry_no_feature_value_threshold_or_name(paillier_1024) -> None:
    y, active, passives = synthetic(300, seed=8)
    params = SecureBoostParams(n_trees=2, max_depth=2, bins=8, encryption=True)
    result = train_in_process(params, y, active, passives, secret=paillier_1024.secret,
                              allow_insecure_for_tests=True, timeout=60)
    replies = b"".join(payload for sender, _, _, payload in result.hub.wire if sender != "platform/main")
    assert replies
    for party, table in passives.items():
        for name in table.names:
            assert name.encode() not in replies
        for rule in result.passives[party].rules.values():
            assert np.float64(rule.threshold).tobytes() not in replies
        for value in table.values[:50].ravel():
            assert np.float64(value).tobytes() not in replies


def test_plain_and_encrypted_trainers_refuse_a_mismatched_cipher() -> None:
    y, active, _ = synthetic(50, seed=0)
    with pytest.raises(ValueError):
        ActiveTrainer(dataclasses.replace(SecureBoostParams(), encryption=True), y, active, PlainEncryptor(), [])
