"""A live platform API: the real app on a real uvicorn server (port 0) over a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from tests.platform_node.world import Platform, build_platform


@dataclass
class Live:
    platform: Platform
    http: httpx.Client

    def as_(self, institution: str) -> dict[str, str]:
        return self.platform.headers(institution)


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """The API over real HTTP, its state on SQLite or on a throwaway PostgreSQL server."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    platform = build_platform(tmp_path, database_url=url)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        with httpx.Client(base_url=url, timeout=10.0) as http:
            yield Live(platform, http)
    finally:
        server.stop()
        platform.services.close()
