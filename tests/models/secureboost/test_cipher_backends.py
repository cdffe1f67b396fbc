"""One contract for every cipher backend (plain, Paillier, OU): the histogram arithmetic is exact."""

from __future__ import annotations

import numpy as np
import pytest

from models.secureboost import HeEncryptor, HeEvaluator, PlainEncryptor, PlainEvaluator
from models.secureboost.errors import ProtocolError
from models.secureboost.fixed_point import PackingLayout, encode, fraction_bits_for


@pytest.fixture(params=["plain", "paillier", "ou"])
def backend(request: pytest.FixtureRequest):
    if request.param == "plain":
        return PlainEncryptor(), PlainEvaluator()
    keys = request.getfixturevalue("paillier_1024" if request.param == "paillier" else "ou_1536")
    return HeEncryptor(keys.secret), HeEvaluator(keys.public)


def _round_trip(encryptor, evaluator, layout: PackingLayout, vector) -> tuple[list[int], list[int]]:
    count = evaluator.size(vector)
    G, H = layout.unpack_pairs(encryptor.decrypt(evaluator.pack(vector, layout), layout.n_packed(count)), count)
    return G.tolist(), H.tolist()


def test_histogram_kernel_matches_integer_reference(backend) -> None:
    encryptor, evaluator = backend
    rng = np.random.default_rng(7)
    n, n_buckets = 120, 9
    g, h = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)
    bits = fraction_bits_for(g, h)
    G, H = encode(g, bits), encode(h, bits)
    layout = PackingLayout.for_tree(G, H, bits, encryptor.capacity_bits)
    data = encryptor.encrypt(layout.pairs(G, H))
    assert len(data) == n * encryptor.value_bytes
    vector = evaluator.concat([evaluator.load(data[:40 * encryptor.value_bytes], 40, layout),
                               evaluator.load(data[40 * encryptor.value_bytes:], n - 40, layout)])
    positions = rng.permutation(n)[:90]
    buckets = rng.integers(0, n_buckets, size=90)
    ref_G = np.zeros(n_buckets, dtype=np.int64)
    ref_H = np.zeros(n_buckets, dtype=np.int64)
    np.add.at(ref_G, buckets, G[positions])
    np.add.at(ref_H, buckets, H[positions])
    sums = evaluator.bucket_sum(vector, positions, buckets, n_buckets)
    assert _round_trip(encryptor, evaluator, layout, sums) == (ref_G.tolist(), ref_H.tolist())

    child = evaluator.bucket_sum(vector, positions[:30], buckets[:30], n_buckets)
    child_G = np.zeros(n_buckets, dtype=np.int64)
    np.add.at(child_G, buckets[:30], G[positions[:30]])
    assert _round_trip(encryptor, evaluator, layout, evaluator.sub(sums, child))[0] == (ref_G - child_G).tolist()

    starts = np.array([0, 4, 7])
    cumulative = evaluator.segment_cumsum(sums, starts)
    expected = np.concatenate([np.cumsum(ref_G[0:4]), np.cumsum(ref_G[4:7]), np.cumsum(ref_G[7:])])
    assert _round_trip(encryptor, evaluator, layout, cumulative)[0] == expected.tolist()

    index = np.array([8, 0, 3])
    picked = evaluator.add(evaluator.take(sums, index), evaluator.take(sums, index))
    assert _round_trip(encryptor, evaluator, layout, picked)[1] == (2 * ref_H[index]).tolist()


def test_truncated_vectors_are_refused(backend) -> None:
    encryptor, evaluator = backend
    layout = PackingLayout(fraction_bits=8, hess_bits=8, slot_bits=30, slots=2)
    data = encryptor.encrypt([1, 2, 3])
    with pytest.raises(ProtocolError):
        evaluator.load(data[:-1], 3, layout)
    with pytest.raises(ProtocolError):
        encryptor.decrypt(b"\x00" * 3, 1)


def test_packed_replies_are_rerandomised(paillier_1024) -> None:
    encryptor, evaluator = HeEncryptor(paillier_1024.secret), HeEvaluator(paillier_1024.public)
    layout = PackingLayout(fraction_bits=8, hess_bits=8, slot_bits=30, slots=4)
    vector = evaluator.load(encryptor.encrypt([5, 6, 7]), 3, layout)
    once, twice = evaluator.pack(vector, layout), evaluator.pack(vector, layout)
    assert once != twice
    assert encryptor.decrypt(once, 1) == encryptor.decrypt(twice, 1) == [layout.pack([5, 6, 7])]


def test_the_passive_side_has_no_way_to_decrypt(paillier_1024) -> None:
    evaluator = HeEvaluator.from_public_bytes(HeEncryptor(paillier_1024.secret).public_bytes(),
                                              allow_insecure_for_tests=True)
    assert not hasattr(evaluator, "decrypt")
    assert all("secret" not in name for name in vars(evaluator))
