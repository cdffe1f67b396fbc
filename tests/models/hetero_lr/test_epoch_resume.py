"""Epoch checkpoints of vertical LR in-process: a run resumed from every party's state after epoch k ends
with the model of the uninterrupted run (plaintext mode: no flooding noise, masks cancel to rounding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from federation.channel import InMemoryHub
from models.hetero_lr import (
    ArbiterPolicy,
    HeteroLrParams,
    HostPolicy,
    ProtocolError,
    run_arbiter,
    run_guest,
    run_host,
)
from tests.models.hetero_lr.support import ARBITER, GUEST, in_threads, make_split

PARAMS = HeteroLrParams(encrypted=False, batch_size=100, max_epochs=6, learning_rate=0.3, momentum=0.9, l2=0.01,
                        tol=0.0)


def _train(split, params: HeteroLrParams, *, seed: int, resume: dict[str, bytes] | None = None
           ) -> tuple[dict[str, Any], dict[str, dict[int, bytes]]]:
    """One training over an in-memory hub; every party's checkpoints by epoch."""
    hub = InMemoryHub((GUEST, ARBITER, *split.hosts))
    saved: dict[str, dict[int, bytes]] = {p: {} for p in (GUEST, ARBITER, *split.hosts)}
    resume = resume or {}

    def keep(party: str) -> Callable[[int, bytes], None]:
        return lambda unit, state: saved[party].__setitem__(unit, state)

    jobs: dict[str, Callable[[], Any]] = {
        GUEST: lambda: run_guest(hub.channel(GUEST), list(split.hosts), ARBITER, labels=split.y,
                                 features=split.guest, params=params, rng=np.random.default_rng(seed), timeout=30,
                                 resume=resume.get(GUEST), on_checkpoint=keep(GUEST)),
        ARBITER: lambda: run_arbiter(hub.channel(ARBITER), GUEST, list(split.hosts),
                                     policy=ArbiterPolicy(allow_plaintext=True), timeout=30,
                                     resume=resume.get(ARBITER), on_checkpoint=keep(ARBITER)),
    }
    for name, x in split.hosts.items():
        jobs[name] = (lambda name=name, x=x: run_host(
            hub.channel(name), GUEST, ARBITER, features=x, policy=HostPolicy(allow_plaintext=True, min_batch_size=8),
            timeout=30, resume=resume.get(name), on_checkpoint=keep(name)))
    return in_threads(jobs, timeout=60), saved


def _scores(split, out: dict[str, Any]) -> np.ndarray:
    total = out[GUEST].model.partial_score(split.guest)
    for name, x in split.hosts.items():
        total = total + out[name].partial_score(x)
    return 1.0 / (1.0 + np.exp(-total))


@pytest.mark.parametrize("epoch", [1, 4])
def test_a_run_resumed_after_epoch_k_ends_with_the_uninterrupted_model(epoch: int) -> None:
    split = make_split()
    whole, saved = _train(split, PARAMS, seed=5)
    assert all(sorted(units) == list(range(1, PARAMS.max_epochs)) for units in saved.values())
    resumed, _ = _train(split, PARAMS, seed=5, resume={p: units[epoch] for p, units in saved.items()})
    np.testing.assert_allclose(_scores(split, resumed), _scores(split, whole), rtol=0, atol=1e-9)
    assert resumed[ARBITER] == whole[ARBITER] == PARAMS.max_epochs
    assert resumed[GUEST].report.losses == pytest.approx(whole[GUEST].report.losses, abs=1e-9)


def test_a_checkpoint_of_another_plan_is_refused() -> None:
    split = make_split()
    _, saved = _train(split, PARAMS, seed=5)
    other = HeteroLrParams(**{**PARAMS.__dict__, "learning_rate": 0.2})
    with pytest.raises(ProtocolError, match="another training plan"):
        _train(split, other, seed=5, resume={p: units[2] for p, units in saved.items()})


def test_an_encrypted_run_resumes_under_a_fresh_key_to_a_model_of_the_same_run() -> None:
    """CKKS mode: the arbiter writes no key, the resumed run binds to a new one; the result differs from
    the uninterrupted run only by the encryption and flooding noise every run carries."""
    split = make_split()
    params = HeteroLrParams(**{**PARAMS.__dict__, "encrypted": True, "max_epochs": 3})
    whole, saved = _train(split, params, seed=5)
    assert len(saved[ARBITER][1]) < 200  # an epoch count and a fingerprint: no CKKS key (megabytes)
    resumed, _ = _train(split, params, seed=5, resume={p: units[1] for p, units in saved.items()})
    assert resumed[ARBITER] == params.max_epochs
    assert np.max(np.abs(_scores(split, resumed) - _scores(split, whole))) < 1e-3
