"""Where a node runs its heavy kernels: the `[compute]` table of the node's own config (source and platform).

`backend = "local"` (the default): this machine's threads and processes. `backend = "ray"`: a Ray cluster the
party owns (`address`, e.g. "10.0.0.5:6379"; `workers` Ray actors of one CPU each). Which kernels go there is
up to each role (docs/OPERATIONS.md): PSI hashing and blinding on both; SecureBoost's histogram sums on a
source; gradient encryption and histogram decryption on the platform. Data stays within the party: the gRPC
protocol between parties is unchanged. `ray` needs the optional `ray` extra on the node and its cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errors import ConfigurationError
from federation.config import ConfigError

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

    @property
    def on_ray(self) -> bool:
        return self.backend == "ray"


def join_ray(address: str | None, workers: int) -> Any:
    """The `ray` module joined to the party's cluster (`address`; None: the environment's, or a new local one),
    refusing `workers` one-CPU actors the cluster could never place (they would wait for ever)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 configure_logging=False)
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < workers:
        raise ConfigurationError(f"[compute] workers = {workers} but the Ray cluster has {cpus:g} CPUs")
    return ray
