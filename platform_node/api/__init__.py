"""The platform's bank and compliance HTTP API (FastAPI): `create_app(build_services(...))`.

Wiring the federated scorer: pass any `platform_node.scoring.scorer.Scorer` as `scorer=` to `build_services`
(or to `platform_node.api.cli.serve`).
"""

from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.server_secrets import PlatformSecrets, load_or_create_master
from platform_node.api.services import PlatformServices, build_services
from platform_node.api.settings import ApiSettings, load_settings

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
