"""Where a source node runs its heavy kernels: `[compute]` in the node's own config.

`backend = "local"` (the default): this machine's processes. `backend = "ray"`: the histogram accumulation of
SecureBoost runs on a Ray cluster the party owns (`address`, e.g. "10.0.0.5:6379"; `workers` column workers,
each owning whole feature columns). Data stays within the party: the gRPC protocol between parties is
unchanged. Needs the optional `ray` extra on this node and its cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from federation.config import ConfigError
from models.secureboost.histogram import ColumnHistograms

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class ComputeSettings:
    """The node's `[compute]` table, validated."""

    backend: str = "local"
    address: str | None = None
    workers: int = 2

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "[compute]") -> ComputeSettings:
        known = {"backend", "address", "workers"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {unknown}; valid: {sorted(known)}")
        backend = str(section.get("backend", "local"))
        if backend not in BACKENDS:
            raise ConfigError(f"{where}: backend must be one of {list(BACKENDS)}, got {backend!r}")
        workers = section.get("workers", 2)
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 1024:
            raise ConfigError(f"{where}: workers must be an integer in [1, 1024]")
        address = section.get("address")
        if address is not None and not isinstance(address, str):
            raise ConfigError(f"{where}: address must be a string such as \"10.0.0.5:6379\"")
        return cls(backend, address, workers)


@contextmanager
def column_histograms(settings: ComputeSettings) -> Iterator[ColumnHistograms | None]:
    """Column workers on the party's Ray cluster for one training run, or None to compute locally."""
    if settings.backend == "local":
        yield None
        return
    from models.secureboost.column_workers import RayColumnHistograms

    with RayColumnHistograms(settings.workers, settings.address) as columns:
        yield columns
