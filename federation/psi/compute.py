"""Where a PSI party hashes its ids and blinds its batches: this machine, or the party's own Ray cluster.

Both backends compute the same bytes; only where the work runs differs, so the protocol and what each party
learns are unchanged (docs/protocols/psi.md). `[compute]` in the node's config chooses (federation/compute.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from federation.compute import ComputeSettings
from federation.psi.blinding import BlindingKey, BlindingPool
from federation.psi.hashing import Hasher


class BatchBlinder(Protocol):
    """Blinds a stream of packed batches with one key, results in input order."""

    def map(self, batches: Iterable[bytes]) -> Iterator[bytes]: ...


class PsiCompute(Protocol):
    """A party's PSI kernels: `hasher` (None: hash while reading the ids) and a blinder per run's key."""

    hasher: Hasher | None

    def blinding(self, key: BlindingKey) -> AbstractContextManager[BatchBlinder]: ...


class LocalPsiCompute:
    """This machine: hashing in the caller's thread, blinding in it too (`workers` = 1) or on `workers` processes."""

    hasher: Hasher | None = None

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def blinding(self, key: BlindingKey) -> BlindingPool:
        return BlindingPool(key, self.workers)


@contextmanager
def psi_compute(settings: ComputeSettings) -> Iterator[PsiCompute]:
    """The node's PSI backend for one stage: this machine, blinding in each run's own thread (`[compute]
    workers` is for Ray: a node spawns no blinding processes per run), or `workers` actors on the party's Ray
    cluster, shared by the stage's runs and released at its end."""
    if not settings.on_ray:
        yield LocalPsiCompute(1)
        return
    from federation.psi.ray_compute import RayPsiCompute

    with RayPsiCompute(settings.workers, settings.address) as compute:
        yield compute
