"""Which identity provider proves who an enterprise is: named in the platform's `[api.enterprise]`
settings and found through the `xyd.identity_providers` entry points, so a city plugs in its own (the
national electronic business licence, a licensed CA's enterprise certificates) without touching xyd.

A provider package declares, in its own pyproject.toml:

    [project.entry-points."xyd.identity_providers"]
    e-license = "city_idp.provider:from_settings"

where `from_settings(options: Mapping[str, Any], *, base: Path | None) -> IdentityProvider`; `options` is
the `[api.enterprise.provider_options]` table (relative paths resolve against the config file's folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from consent.enterprise import IdentityProvider
from errors import ConfigurationError

GROUP = "xyd.identity_providers"


def load_identity_provider(name: str | None, options: Mapping[str, Any], *, base: Path | None = None
                           ) -> IdentityProvider | None:
    """The provider registered under `name` built from `options`; None when no provider is named (then
    enterprises cannot sign up or recover on this platform)."""
    if not name:
        return None
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        known = sorted(ep.name for ep in entry_points(group=GROUP))
        raise ConfigurationError(f"no identity provider named {name!r} is installed (installed: {known})")
    provider = found[0].load()(options, base=base)
    if getattr(provider, "name", None) != name:
        raise ConfigurationError(f"identity provider {name!r} reports the name {getattr(provider, 'name', None)!r}")
    return provider
