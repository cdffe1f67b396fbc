"""A passive party's histogram accumulation on a Ray cluster it owns, split by feature columns.

Each worker (a Ray actor) owns whole columns: it holds the binned values of its features for every training
row, receives the tree's encrypted gradient vector once, and for a node's rows returns the per-bin sums of
its features (joint cells planned over its own columns only). The driver concatenates the blocks in feature
order. Ciphertext products modulo n^2 are exact, so the histograms, and the model, are identical to the local
computation whatever the split; no ciphertext is ever added across workers (a row split would need that for
every bin). The gradient vector and the binned columns stay on the party's own cluster: the protocol between
parties is unchanged. Needs the optional `ray` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from federation.compute import join_ray
from models.secureboost import cell_plan
from models.secureboost import histogram as hist
from models.secureboost.errors import InvalidParameterError
from models.secureboost.he_cipher import HeEvaluator, _to_bytes


class ColumnWorker:
    """One worker's columns and the tree's vector (runs inside a Ray actor)."""

    def __init__(self, public_key: bytes, columns: np.ndarray, allow_insecure_for_tests: bool) -> None:
        self._evaluator = HeEvaluator.from_public_bytes(public_key, allow_insecure_for_tests=allow_insecure_for_tests,
                                                        threads=1)
        self._columns = np.asarray(columns)
        self._vector: list = []

    def load(self, data: bytes, count: int) -> int:
        """Take the tree's gradient vector (fixed-width ciphertexts)."""
        self._vector = self._evaluator.load(data, count, None)  # type: ignore[arg-type]
        return count

    def sums(self, positions: np.ndarray, rows: np.ndarray, local: Sequence[int], sizes: Sequence[int]
             ) -> list[bytes]:
        """Per-bin sums of the local columns `local` over `rows` (vector entries `positions`), one block each."""
        columns = self._columns[np.ix_(rows, np.asarray(local, dtype=np.int64))].astype(np.int64)
        plan = cell_plan.plan_cells(columns, list(sizes))
        blocks = cell_plan.sum_by_plan(self._evaluator, self._vector, positions, columns, list(sizes), plan)
        width = self._evaluator.value_bytes
        return [_to_bytes(block, width) for block in blocks]


class RayColumnHistograms:
    """Builds node histograms on `workers` Ray actors, each owning a fixed share of the feature columns.

    `address` is the party's cluster (`ray start --head` prints it); None connects to the cluster of the
    environment or starts a local one. Use as a context manager, or call `close()`.
    """

    def __init__(self, workers: int, address: str | None = None) -> None:
        if workers < 1:
            raise InvalidParameterError(f"workers must be at least 1, got {workers}")
        self._ray = join_ray(address, workers)
        self.workers = workers
        self._actors: list[Any] = []
        self._owner: np.ndarray = np.empty(0, dtype=np.int64)
        self._local: np.ndarray = np.empty(0, dtype=np.int64)

    def setup(self, public_key: bytes, binned: np.ndarray, *, allow_insecure_for_tests: bool = False) -> None:
        """Give each worker its columns (round robin over the features: similar bin counts per worker)."""
        ray = self._ray
        n_features = binned.shape[1]
        self._owner = np.arange(n_features, dtype=np.int64) % self.workers
        self._local = np.zeros(n_features, dtype=np.int64)
        actor = ray.remote(num_cpus=1)(ColumnWorker)
        self._actors = []
        for w in range(min(self.workers, max(1, n_features))):
            mine = np.flatnonzero(self._owner == w)
            self._local[mine] = np.arange(mine.size)
            self._actors.append(actor.remote(public_key, binned[:, mine], allow_insecure_for_tests))

    def start_tree(self, vector: list, value_bytes: int) -> None:
        """Ship the tree's gradient vector to every worker once (one object in the cluster's store)."""
        ref = self._ray.put(_to_bytes(vector, value_bytes))
        self._ray.get([a.load.remote(ref, len(vector)) for a in self._actors])

    def build(self, evaluator: HeEvaluator, positions: np.ndarray, rows: np.ndarray, binned_rows: np.ndarray,
              layout: hist.BinLayout) -> hist.NodeHistogram:
        """The node's histogram over `layout.features`, identical to `histogram.build`."""
        features = layout.features.tolist()
        sizes = (layout.n_bins + 1).tolist()
        jobs = []
        for w, actor in enumerate(self._actors):
            mine = [i for i, f in enumerate(features) if self._owner[f] == w]
            if mine:
                jobs.append((mine, actor.sums.remote(positions, rows, [int(self._local[features[i]]) for i in mine],
                                                     [sizes[i] for i in mine])))
        blocks: list[Any] = [None] * len(features)
        width = evaluator.value_bytes
        for mine, ref in jobs:
            for i, data in zip(mine, self._ray.get(ref), strict=True):
                blocks[i] = evaluator.load(data, len(data) // width, None)  # type: ignore[arg-type]
        counts = np.bincount(layout.flat_bins(binned_rows), minlength=layout.total).astype(np.int64)
        return hist.NodeHistogram(evaluator.concat(blocks), counts)

    def close(self) -> None:
        """Release the actors (the cluster itself belongs to the party's operator)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def __enter__(self) -> RayColumnHistograms:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
