"""CKKS helpers: role-split contexts, long vectors, the products logistic regression needs, aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from models.he import (
    CkksContext,
    CkksError,
    CkksParams,
    CkksPublicContext,
    aggregate,
    plain_matrix_times_encrypted,
    plain_transpose_times_encrypted,
    weighted_column_sum,
)

PARAMS = CkksParams(poly_degree=8192, coeff_bits=(60, 40, 40, 60), scale_bits=40)
ATOL = 1e-3


@pytest.fixture(scope="module")
def secret() -> CkksContext:
    return CkksContext.generate(PARAMS, galois_keys=True)


@pytest.fixture(scope="module")
def public(secret: CkksContext) -> CkksPublicContext:
    return secret.public(galois_keys=False)


def test_public_context_serialises_without_the_secret_key(
    secret: CkksContext, public: CkksPublicContext
) -> None:
    assert not hasattr(public, "decrypt")
    assert not public.has_galois_keys
    data = public.to_bytes()
    reloaded = CkksPublicContext.from_bytes(data, PARAMS)
    assert not ts.context_from(data).is_private()
    assert len(data) < 5_000_000  # without Galois keys it stays small (~2 MB at N = 8192)
    assert np.allclose(secret.decrypt(reloaded.encrypt(np.array([1.0, -2.0]))), [1.0, -2.0], atol=ATOL)


def test_a_context_carrying_the_secret_key_is_refused_as_public(secret: CkksContext) -> None:
    leaked = secret._context.serialize(save_secret_key=True, save_galois_keys=False)
    with pytest.raises(CkksError):
        CkksPublicContext.from_bytes(leaked, PARAMS)


def test_long_vectors_are_chunked_and_round_trip(secret: CkksContext, public: CkksPublicContext) -> None:
    values = np.random.default_rng(1).normal(size=PARAMS.slots + 900)
    encrypted = public.encrypt(values)
    assert encrypted.chunk_sizes == [PARAMS.slots, 900]
    restored = public.array_from_bytes(encrypted.to_chunk_bytes())
    assert np.allclose(secret.decrypt(restored), values, atol=ATOL)
    doubled = (restored + restored).mul_plain(0.5).add_plain(np.ones(len(values)))
    assert np.allclose(secret.decrypt(doubled), values + 1, atol=ATOL)


def test_column_packed_products_match_numpy(secret: CkksContext, public: CkksPublicContext) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5000, 6))
    w = rng.normal(size=6)
    columns = [public.encrypt(x[:, j]) for j in range(x.shape[1])]
    assert np.allclose(secret.decrypt(weighted_column_sum(columns, w)), x @ w, atol=ATOL)
    broadcast = [public.encrypt(np.full(x.shape[0], wj)) for wj in w]
    assert np.allclose(secret.decrypt(plain_matrix_times_encrypted(x, broadcast)), x @ w, atol=ATOL)


def test_transposed_product_for_gradients_needs_galois_keys(
    secret: CkksContext, public: CkksPublicContext
) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(300, 4))
    residual = rng.uniform(-1, 1, size=300)
    gradient = plain_transpose_times_encrypted(x, secret.encrypt(residual))
    assert np.allclose(secret.decrypt(gradient), x.T @ residual, atol=1e-2)
    with pytest.raises(CkksError):
        plain_transpose_times_encrypted(x, public.encrypt(residual))


def test_aggregator_sums_many_parties_without_the_secret(
    secret: CkksContext, public: CkksPublicContext
) -> None:
    data = public.to_bytes()
    updates = [np.random.default_rng(10 + i).normal(size=700) for i in range(4)]
    wire = [CkksPublicContext.from_bytes(data, PARAMS).encrypt(u).to_chunk_bytes() for u in updates]
    aggregator = CkksPublicContext.from_bytes(data, PARAMS)
    total = aggregate([aggregator.array_from_bytes(chunks) for chunks in wire])
    back = secret.array_from_bytes(total.to_chunk_bytes())
    assert np.allclose(secret.decrypt(back), np.sum(updates, axis=0), atol=ATOL)
