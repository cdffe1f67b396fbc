"""`[compute]` of a source node's config: local by default, Ray only when the node's own file says so."""

from __future__ import annotations

import pytest

from federation.config import ConfigError
from source_node.compute import ComputeSettings, column_histograms


def test_local_is_the_default_and_computes_in_this_process() -> None:
    settings = ComputeSettings.from_section({})
    assert settings == ComputeSettings(backend="local", address=None, workers=2)
    with column_histograms(settings) as columns:
        assert columns is None


def test_a_ray_backend_names_its_cluster_and_workers() -> None:
    settings = ComputeSettings.from_section({"backend": "ray", "address": "10.0.0.5:6379", "workers": 8})
    assert (settings.backend, settings.address, settings.workers) == ("ray", "10.0.0.5:6379", 8)


@pytest.mark.parametrize(("section", "message"), [({"backend": "spark"}, "backend"), ({"workers": 0}, "workers"),
                                                   ({"workers": True}, "workers"), ({"address": 6379}, "address"),
                                                   ({"nodes": 3}, "unknown")])
def test_bad_settings_are_refused_by_name(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ComputeSettings.from_section(section)
