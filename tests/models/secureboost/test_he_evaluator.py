"""The passive party's ciphertext kernels against direct modular arithmetic."""

from __future__ import annotations

import gmpy2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.secureboost.he_cipher import HeEvaluator


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(0, 60), n_buckets=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_bucket_sum_is_the_product_of_each_buckets_entries(ou_1536, rows: int, n_buckets: int, seed: int) -> None:
    evaluator = HeEvaluator(ou_1536.public)
    rng = np.random.default_rng(seed)
    m = ou_1536.public.n
    vector = [gmpy2.mpz(int(x)) % m for x in rng.integers(2, 2**62, 80)]
    positions = rng.integers(0, 80, rows)
    buckets = rng.integers(0, n_buckets, rows)
    expected = [gmpy2.mpz(1)] * n_buckets  # an empty bucket holds the trivial encryption of zero
    for p, b in zip(positions.tolist(), buckets.tolist(), strict=True):
        expected[b] = expected[b] * vector[p] % m
    assert evaluator.bucket_sum(vector, positions, buckets, n_buckets) == expected


def test_subtraction_divides_entrywise(ou_1536) -> None:
    evaluator = HeEvaluator(ou_1536.public)
    m = ou_1536.public.n
    rng = np.random.default_rng(2)
    a = [gmpy2.mpz(int(x)) for x in rng.integers(2, 2**62, 25)]
    b = [gmpy2.mpz(int(x)) for x in rng.integers(2, 2**62, 25)]
    assert evaluator.sub(a, b) == [x * gmpy2.invert(y, m) % m for x, y in zip(a, b, strict=True)]
    assert evaluator.sub([], []) == []
