"""PSI hashing and blinding on a Ray cluster the party owns: `workers` actors of one CPU each.

Hashing splits the ids into one contiguous share per actor; blinding sends each batch to the next actor
round robin (one rotation shared by every stream and run using this compute, so the platform's parallel
runs spread over all actors), with at most two batches per actor in flight per stream, results in order.
The run's secret scalar travels with each batch to the party's own cluster and nowhere else; the ids' text
goes to it for hashing. Each actor computes exactly what the local code computes (same modules), so the
messages to the peer are the same bytes, and a PSI journals and resumes as with the local backend (the
journal stays on the node). Needs the optional `ray` extra.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from federation.compute import join_ray
from federation.psi.blinding import BlindingKey
from federation.psi.errors import PsiError
from federation.psi.hashing import hash_packed


class PsiWorker:
    """One actor's kernels (stateless: the key comes with each batch)."""

    def hash(self, text: bytes, offsets: np.ndarray) -> bytes:
        return hash_packed(text, offsets)

    def blind(self, scalar: bytes, points: bytes) -> bytes:
        return BlindingKey(scalar).blind(points)


class RayPsiCompute:
    """`PsiCompute` on `workers` Ray actors; `address` None joins the environment's cluster or starts one."""

    def __init__(self, workers: int, address: str | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._ray = ray = join_ray(address, workers)
        actor = ray.remote(num_cpus=1)(PsiWorker)
        self._actors: list[Any] = [actor.remote() for _ in range(workers)]
        self._turn = itertools.count()  # next() is atomic under the GIL: safe from the platform's run threads

    def next_actor(self) -> Any:
        """The actor whose turn it is (round robin over every batch of every run)."""
        return self._actors[next(self._turn) % len(self._actors)]

    def hasher(self, text: bytes, offsets: np.ndarray) -> bytes:
        """`hash_packed` over one contiguous share of the ids per actor."""
        rows = len(offsets) - 1
        cuts = np.linspace(0, rows, len(self._actors) + 1).astype(np.int64)
        refs = [actor.hash.remote(text[int(offsets[a]):int(offsets[b])], offsets[a:b + 1] - offsets[a])
                for actor, a, b in zip(self._actors, cuts[:-1], cuts[1:], strict=True) if b > a]
        return b"".join(self._get(ref) for ref in refs)

    def blinding(self, key: BlindingKey) -> _RayBlinder:
        return _RayBlinder(self, key.scalar)

    def _get(self, ref: Any) -> Any:
        """The result, with a PSI error raised in an actor re-raised as itself (e.g. InvalidPointError)."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, PsiError):
                raise error.cause from None
            raise

    def close(self) -> None:
        """Release the actors (the cluster itself belongs to the party's operator)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def __enter__(self) -> RayPsiCompute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RayBlinder:
    """One run's blinding on the actors: in order, at most two batches per actor in flight."""

    def __init__(self, compute: RayPsiCompute, scalar: bytes) -> None:
        self._compute = compute
        self._scalar = scalar

    def map(self, batches: Iterable[bytes]) -> Iterator[bytes]:
        depth = 2 * len(self._compute._actors)
        pending: deque[Any] = deque()
        for batch in batches:
            pending.append(self._compute.next_actor().blind.remote(self._scalar, batch))
            if len(pending) >= depth:
                yield self._compute._get(pending.popleft())
        while pending:
            yield self._compute._get(pending.popleft())

    def __enter__(self) -> _RayBlinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scalar = b""
