"""The enterprise console's server side over real HTTP, with this process doing what the browser's script does
(signing with the enterprise's key): the log-in is the API's request signature over a one-time challenge and
is good once; every change needs the session's CSRF token and a signature the platform verifies exactly as the
API does (terms changed in the browser are TAMPERED_TERMS); rotating the key ends the session; an institution's
session opens no enterprise page."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.enterprise_client import EnterpriseClient, Profile
from consent.authorisation import FieldCatalogue, FieldSpec, Sensitivity, ValueType
from consent.authorisation.codec import b64decode, b64encode, canonical_json
from consent.authorisation.signatures import Domain, key_id, sign
from consent.enterprise import LocalEnterpriseCA
from consent.enterprise.request_auth import signing_payload
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.consent_registry.registry import publish_catalogue
from platform_node.enterprises.settings import EnterpriseSettings
from tests.platform_node.world import BANK_A, BANK_B, T0, Platform, build_platform, enterprises

CODE = enterprises(5)[3]
LOGIN = "/console/enterprise/login"


@dataclass
class World:
    platform: Platform
    url: str
    client: EnterpriseClient

    def ask(self, ref: str) -> str:
        body = {"credit_code": CODE, "data_items": ["source/tax:revenue_12m_cny"], "purpose": "PRE_LOAN_REVIEW",
                "loan_application_ref": ref, "valid_days": 30, "max_uses": 3}
        with httpx.Client(base_url=self.url) as http:
            answer = http.post("/v1/consent-requests", json=body, headers=self.platform.headers(BANK_A))
        assert answer.status_code == 201, answer.text
        return answer.json()["request_id"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ca = LocalEnterpriseCA.create(tmp_path / "ca", now=T0 - timedelta(days=1))
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'platform.db'}", allow_insecure_webhooks_for_tests=True,
                           enterprise=EnterpriseSettings(identity_provider="local-certificate",
                                                         provider_options={"certificate_ca": str(tmp_path / "ca" / "ca.pem")}))
    platform = build_platform(tmp_path, settings=settings)
    with platform.services.engine.begin() as conn:
        publish_catalogue(conn, platform.services.audit, "source/tax", FieldCatalogue([
            FieldSpec("revenue_12m_cny", "tax", Sensitivity.TRADE_SECRET, ValueType.NUMBER, "2025")]),
            now=platform.clock())
    server = ApiServer(create_app(platform.services))
    url = server.start()
    profile = Profile(tmp_path / "e.toml", url, CODE, tmp_path / "e.key")
    client = EnterpriseClient(profile, key=Ed25519PrivateKey.generate(), clock=platform.clock)
    issued = ca.issue(CODE, "Enterprise Co.", now=T0 - timedelta(hours=1))
    client.sign_up(certificate_pem=issued.certificate_pem, certificate_key_pem=issued.key_pem, signatory="Li Lei")
    try:
        yield World(platform, url, client)
    finally:
        client.close()
        server.stop()
        platform.services.close()


def _value(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def signed_log_in(http: httpx.Client, world: World, key: Ed25519PrivateKey) -> dict[str, str]:
    """What the log-in page's script posts: the API's request signature over the page's challenge."""
    challenge = _value(http.get(LOGIN).text, "csrf")
    nonce, timestamp = "ab" * 16, int(world.platform.clock().timestamp())
    kid = key_id(key.public_key())
    payload = signing_payload(method="POST", path=LOGIN, query="",
                              content_sha256=hashlib.sha256(challenge.encode()).hexdigest(), credit_code=CODE,
                              key_id=kid, timestamp=timestamp, nonce=nonce)
    return {"csrf": challenge, "credit_code": CODE, "key_id": kid, "timestamp": str(timestamp), "nonce": nonce,
            "signature": b64encode(sign(key, Domain.HTTP_REQUEST, payload))}


def test_log_in_by_signature_and_every_change_signed_and_csrf_checked(world: World) -> None:
    key = world.client.key
    with httpx.Client(base_url=world.url) as http:
        stranger = signed_log_in(http, world, Ed25519PrivateKey.generate())
        assert http.post(LOGIN, data=stranger).status_code == 401  # a key not bound to the enterprise
        form = signed_log_in(http, world, key)
        done = http.post(LOGIN, data=form)
        assert (done.status_code, done.headers["location"]) == (303, "/console/enterprise/requests")
        page = http.get("/console/enterprise/requests")
        assert page.status_code == 200 and "Enterprise Co." in page.text
        csrf = _value(page.text, "csrf")

        # The same signed log-in again (its challenge cookie put back): the nonce is spent, as in the API.
        with httpx.Client(base_url=world.url, cookies={"xyd_enterprise_login": form["csrf"]}) as again:
            assert again.post(LOGIN, data=form).status_code == 401

        request_id = world.ask("LA-1")
        prepare = f"/console/enterprise/requests/{request_id}/prepare/approve"
        assert http.post(prepare, data={}).status_code == 403  # no CSRF token
        to_sign = http.post(prepare, data={"csrf": csrf}).json()
        assert to_sign["domain"] == Domain.TERMS.value
        payload = b64decode(to_sign["payload"])
        content = json.loads(payload)
        assert content["key_id"] == key_id(key.public_key()) and content["terms"]["max_uses"] == 3

        # Terms changed on the way (one more use), signed: the platform refuses them as the API does.
        content["terms"]["max_uses"] = 4
        tampered = canonical_json(content)
        refused = http.post(f"/console/enterprise/requests/{request_id}/approve",
                            data={"csrf": csrf, "payload": b64encode(tampered),
                                  "signature": b64encode(sign(key, Domain.TERMS, tampered))})
        assert refused.status_code == 422 and "TAMPERED_TERMS" in refused.text
        signature = b64encode(sign(key, Domain.TERMS, payload))
        approve = f"/console/enterprise/requests/{request_id}/approve"
        assert http.post(approve, data={"payload": to_sign["payload"], "signature": signature}).status_code == 403
        assert world.platform.services.consent_desk.list(credit_code=CODE)[0].status.value == "PENDING"
        approved = http.post(approve, data={"csrf": csrf, "payload": to_sign["payload"], "signature": signature})
        assert approved.status_code == 303 and "/console/enterprise/consents/auth-" in approved.headers["location"]
        consents = world.platform.services.consent_desk.consents(world.platform.services.enterprises.get(CODE))
        assert [c.status.value for c in consents] == ["ACTIVE"]

        # Rotating the key (through the API) ends the console session it logged in with.
        world.platform.clock.advance(5)
        world.client.rotate(Ed25519PrivateKey.generate(), signatory="Li Lei")
        gone = http.get("/console/enterprise/requests")
        assert gone.status_code == 303 and gone.headers["location"].startswith(LOGIN)


def test_an_institution_session_opens_no_enterprise_page(world: World) -> None:
    with httpx.Client(base_url=world.url) as http:
        form = http.get("/console/login")
        http.post("/console/login", data={"csrf": _value(form.text, "csrf"),
                                          "api_key": world.platform.keys[BANK_A]})
        assert http.get("/console/enterprise/requests").status_code == 403
        assert http.get("/console/enterprise/report").status_code == 403


def test_a_bank_sees_its_own_consent_requests_and_never_another_banks(world: World) -> None:
    request_id = world.ask("LOAN-CONSOLE-7")
    seen = {}
    for bank in (BANK_A, BANK_B):
        with httpx.Client(base_url=world.url) as http:
            form = http.get("/console/login")
            http.post("/console/login", data={"csrf": _value(form.text, "csrf"), "api_key": world.platform.keys[bank]})
            seen[bank] = http.get("/console/bank/consents")
            filtered = http.get("/console/bank/consents", params={"status": "DECLINED"})
        assert seen[bank].status_code == 200 and filtered.status_code == 200
        assert CODE not in filtered.text
    assert CODE in seen[BANK_A].text and "PENDING" in seen[BANK_A].text and "source/tax:revenue_12m_cny" in seen[BANK_A].text
    assert CODE not in seen[BANK_B].text and request_id not in seen[BANK_B].text
