"""The platform's bank and compliance HTTP API (FastAPI): `create_app(build_services(...))`.

Wiring the federated scorer: pass any `platform_node.scoring.scorer.Scorer` as `scorer=` to `build_services`
(or to `platform_node.api.cli.serve`). Names load on first use (PEP 562), so the `xyd` parser, which lives in
`platform_node.api.command_line`, does not import FastAPI.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "create_app": "platform_node.api.app", "ApiServer": "platform_node.api.server",
    "PlatformSecrets": "platform_node.api.server_secrets", "load_or_create_master": "platform_node.api.server_secrets",
    "PlatformServices": "platform_node.api.services", "build_services": "platform_node.api.services",
    "ApiSettings": "platform_node.api.settings", "load_settings": "platform_node.api.settings",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
