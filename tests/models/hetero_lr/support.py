"""Run the three hetero-LR roles in threads over an in-memory hub, and a small vertically split data set."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from federation.channel import InMemoryHub
from models.hetero_lr import (
    ArbiterPolicy,
    GuestResult,
    HeteroLrParams,
    HostPolicy,
    LrModel,
    MaskSource,
    run_arbiter,
    run_guest,
    run_host,
)

GUEST, ARBITER = "platform/main", "coordinator/main"
HOSTS = ("source/tax", "source/utilities")


@dataclass(frozen=True)
class Split:
    """Labels, the guest's columns and each host's columns, rows aligned."""

    y: np.ndarray
    guest: np.ndarray
    hosts: dict[str, np.ndarray]

    def joined(self) -> np.ndarray:
        return np.column_stack([self.guest, *self.hosts.values()])


def make_split(n: int = 600, seed: int = 3) -> Split:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 7))
    w = np.array([1.2, -0.8, 0.3, 0.9, -0.6, 0.5, -0.4])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w - 1.0)))).astype(float)
    return Split(y, x[:, :3], {HOSTS[0]: x[:, 3:5], HOSTS[1]: x[:, 5:7]})


def in_threads(jobs: dict[str, Callable[[], Any]], timeout: float = 120.0) -> dict[str, Any]:
    """Run each job in its own thread; re-raise the first failure to happen."""
    results: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            results[name] = job()
        except BaseException as error:  # re-raised below
            errors[name] = error

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise next(iter(errors.values()))
    return results


@dataclass
class Trained:
    guest: GuestResult
    hosts: dict[str, LrModel]
    epochs: int
    hub: InMemoryHub


def train(split: Split, params: HeteroLrParams, *, host_policy: HostPolicy | None = None,
          arbiter_policy: ArbiterPolicy | None = None, seed: int = 0, timeout: float = 60.0) -> Trained:
    """Train over an in-memory hub; `seed` fixes the guest's row order (masks stay random)."""
    hub = InMemoryHub((GUEST, ARBITER, *split.hosts))
    host_policy = host_policy or HostPolicy(allow_plaintext=True, min_batch_size=8)
    arbiter_policy = arbiter_policy or ArbiterPolicy(allow_plaintext=True)
    jobs: dict[str, Callable[[], Any]] = {
        "guest": lambda: run_guest(hub.channel(GUEST), list(split.hosts), ARBITER, labels=split.y,
                                   features=split.guest, params=params, rng=np.random.default_rng(seed),
                                   timeout=timeout),
        "arbiter": lambda: run_arbiter(hub.channel(ARBITER), GUEST, list(split.hosts), policy=arbiter_policy,
                                       masks=MaskSource(), timeout=timeout),
    }
    for name, x in split.hosts.items():
        jobs[name] = (lambda name=name, x=x: run_host(hub.channel(name), GUEST, ARBITER, features=x,
                                                       policy=host_policy, timeout=timeout))
    out = in_threads(jobs, timeout=timeout * 2)
    return Trained(out["guest"], {h: out[h] for h in split.hosts}, out["arbiter"], hub)


def joint_weights(trained: Trained) -> np.ndarray:
    return np.concatenate([trained.guest.model.weights, *[m.weights for m in trained.hosts.values()]])
