"""A source node's SecureBoost histograms by `[compute]` (federation/compute.py): on this machine, or on column
workers of the party's own Ray cluster, each owning whole feature columns (models/secureboost/column_workers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from federation.compute import ComputeSettings
from models.secureboost.histogram import ColumnHistograms

__all__ = ["ComputeSettings", "column_histograms"]


@contextmanager
def column_histograms(settings: ComputeSettings) -> Iterator[ColumnHistograms | None]:
    """Column workers on the party's Ray cluster for one training run, or None to compute locally."""
    if settings.backend == "local":
        yield None
        return
    from models.secureboost.column_workers import RayColumnHistograms

    with RayColumnHistograms(settings.workers, settings.address) as columns:
        yield columns
