"""`xyd demo --keep-running` prints a console login for each role: each key, onboarded with `xyd institution
add` as the demo does, opens the console on the page of its role."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from platform_node.api.app import create_app
from platform_node.api.cli import platform_secrets
from platform_node.api.server import ApiServer
from platform_node.api.services import build_services
from platform_node.api.settings import load_settings
from platform_node.reports.public_records import InMemoryPublicRecords
from sandbox.demo.run import console_logins
from tests.platform_node.world import feature_sources, local_scorer


def test_every_printed_login_opens_its_roles_console(tmp_path: Path) -> None:
    config = tmp_path / "platform.toml"
    config.write_text(f'[api]\ndatabase_url = "sqlite:///{tmp_path / "api.db"}"\n'
                      f'secrets_file = "{tmp_path / "master.key"}"\n', encoding="utf-8")
    from sandbox.demo.bank import onboard

    bank_key = onboard(config, "demo-bank", "Demo Commercial Bank")
    logins = console_logins(config, {"demo_bank_api_key": bank_key})
    assert len(logins) == 4 and len(set(logins.values())) == 4
    settings = load_settings(config)
    services = build_services(settings, scorer=local_scorer(feature_sources([])), public_records=InMemoryPublicRecords(),
                              secrets=platform_secrets(settings))
    server = ApiServer(create_app(services))
    url = server.start()
    homes = []
    try:
        for key in logins.values():
            with httpx.Client(base_url=url) as http:
                token = re.search(r'name="csrf" value="([^"]+)"', http.get("/console/login").text).group(1)
                reply = http.post("/console/login", data={"csrf": token, "api_key": key})
                assert reply.status_code == 303
                homes.append(reply.headers["location"])
                assert http.get(reply.headers["location"]).status_code == 200
    finally:
        server.stop()
        services.close()
    assert homes == ["/console/bank/score", "/console/compliance/uses", "/console/operator/nodes",
                     "/console/statistics"]
