"""The platform's bank and compliance HTTP API (FastAPI): `create_app(build_services(...))`.

Wiring the federated scorer: pass any `platform_node.scoring.scorer.Scorer` as `scorer=` to `build_services`
(or to `platform_node.api.cli.serve`).
"""

from importlib import import_module
from typing import Any

# Imported on first use, so that `xyd` (which registers `xyd institution` and `xyd api` from
# `platform_node.api.cli`) does not load FastAPI and the whole app to build its parser.
_EXPORTS = {
    "ApiServer": "platform_node.api.server",
    "ApiSettings": "platform_node.api.settings",
    "PlatformSecrets": "platform_node.api.server_secrets",
    "PlatformServices": "platform_node.api.services",
    "build_services": "platform_node.api.services",
    "create_app": "platform_node.api.app",
    "load_or_create_master": "platform_node.api.server_secrets",
    "load_settings": "platform_node.api.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


__all__ = [
    "ApiServer",
    "ApiSettings",
    "PlatformSecrets",
    "PlatformServices",
    "build_services",
    "create_app",
    "load_or_create_master",
    "load_settings",
]
