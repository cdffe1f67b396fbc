"""Enterprise accounts over real HTTP (the app on a uvicorn server, a clock the test moves): sign-up with a
certificate proof, per-request signatures checked by the request gate before the body (replay, staleness,
a body that is not the signed one, a bank's key on an enterprise route), failed proofs rate-limited, key
rotation and recovery through the enterprise client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.enterprise_client import EnterpriseApiError, EnterpriseClient, Profile
from consent.authorisation.signatures import key_id
from consent.enterprise import LocalEnterpriseCA
from consent.enterprise.local_certificates import IssuedCertificate
from consent.enterprise.request_auth import sign_request
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.enterprises.settings import EnterpriseSettings
from platform_node.institutions.failed_auth import FailedAuthLimits
from tests.platform_node.world import BANK_A, T0, Platform, build_platform, enterprises

CODE = enterprises(3)[2]


@dataclass
class World:
    platform: Platform
    url: str
    certificate: IssuedCertificate
    db: Path

    def client(self, key: Ed25519PrivateKey) -> EnterpriseClient:
        profile = Profile(self.db.parent / "ent.toml", self.url, CODE, self.db.parent / "ent.key")
        return EnterpriseClient(profile, key=key, clock=self.platform.clock)

    def sign_up(self, key: Ed25519PrivateKey) -> dict:
        with self.client(key) as client:
            return client.sign_up(certificate_pem=self.certificate.certificate_pem,
                                  certificate_key_pem=self.certificate.key_pem, signatory="Li Lei")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ca = LocalEnterpriseCA.create(tmp_path / "ca", now=T0 - timedelta(days=1))
    db = tmp_path / "platform.db"
    settings = ApiSettings(
        database_url=f"sqlite:///{db}", failed_auth=FailedAuthLimits(address_burst=8, address_per_minute=1),
        enterprise=EnterpriseSettings(identity_provider="local-certificate",
                                      provider_options={"certificate_ca": str(tmp_path / "ca" / "ca.pem")}))
    platform = build_platform(tmp_path, settings=settings)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield World(platform, url, ca.issue(CODE, "Demo Textiles Co.", now=T0 - timedelta(hours=1)), db)
    finally:
        server.stop()
        platform.services.close()


def test_sign_up_then_signed_requests_and_nothing_private_stored(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    change = world.sign_up(key)
    assert change["key_id"] == key_id(key.public_key()) and change["audit"][0]["leaf_index"] >= 0
    with world.client(key) as client:
        account = client.account()
    assert account["name"] == "Demo Textiles Co." and account["keys"][0]["key_id"] == change["key_id"]
    world.platform.services.engine.dispose()
    stored = b"".join(p.read_bytes() for p in world.db.parent.glob("platform.db*"))
    assert key.public_key().public_bytes_raw() in stored  # the public key is there ...
    assert key.private_bytes_raw() not in stored and key.private_bytes_raw().hex().encode() not in stored


def test_the_gate_checks_the_signature_before_the_body(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    world.sign_up(key)
    now = world.platform.clock()
    path = "/v1/enterprise/keys/rotation"
    with httpx.Client(base_url=world.url, timeout=10.0) as http:
        # No signature, a bank's API key, a garbage header: 401 whatever the body.
        assert http.post(path, content=b"{not json").status_code == 401
        assert http.post(path, content=b"{", headers=world.platform.headers(BANK_A)).status_code == 401
        signed = sign_request(key, credit_code=CODE, method="POST", path=path, body=b'{"a":1}', now=now)
        tampered = http.post(path, content=b'{"a":2}', headers=signed)
        assert tampered.status_code == 401 and tampered.json()["code"] == "BODY_DIGEST_MISMATCH"
        get = sign_request(key, credit_code=CODE, method="GET", path="/v1/enterprise/account", now=now)
        assert http.get("/v1/enterprise/account", headers=get).status_code == 200
        replay = http.get("/v1/enterprise/account", headers=get)
        assert replay.status_code == 401 and replay.json()["code"] == "REPLAYED_REQUEST"
        old = sign_request(key, credit_code=CODE, method="GET", path="/v1/enterprise/account",
                           now=now - timedelta(minutes=2))
        stale = http.get("/v1/enterprise/account", headers=old)
        assert stale.status_code == 401 and stale.json()["code"] == "STALE_REQUEST"
        other = sign_request(key, credit_code=CODE, method="GET", path="/v1/enterprise/account", now=now)
        assert http.get("/v1/enterprise/account?x=1", headers=other).status_code == 401  # query not signed


def test_failed_identity_proofs_are_rate_limited_before_the_body(world: World) -> None:
    bad = {"proof": {"provider": "local-certificate", "statement": "e30=", "signature": "", "credential": "",
                     "key_signature": ""}}
    with httpx.Client(base_url=world.url, timeout=10.0) as http:
        for _ in range(8):
            answer = http.post("/v1/enterprise-accounts", json=bad)
            assert answer.status_code == 401 and answer.json() == {
                "code": "IDENTITY_NOT_PROVEN", "message": "the identity proof was not accepted"}
        limited = http.post("/v1/enterprise-accounts", content=b"x" * 10_000)
        assert limited.status_code == 429 and limited.json()["code"] == "AUTH_RATE_LIMITED"


def test_rotation_and_recovery_through_the_client(world: World) -> None:
    first, second, third = (Ed25519PrivateKey.generate() for _ in range(3))
    world.sign_up(first)
    clock = world.platform.clock
    clock.advance(60)
    with world.client(first) as client:
        rotated = client.rotate(second, signatory="Li Lei")
        assert rotated["key_id"] == key_id(second.public_key())
        clock.advance(1)
        with pytest.raises(EnterpriseApiError) as refused:
            client.account()  # still signing with the rotated-out key
        assert refused.value.status == 401
    lost_at = clock()
    clock.advance(3600)
    with world.client(third) as client:
        recovered = client.recover(third, certificate_pem=world.certificate.certificate_pem,
                                   certificate_key_pem=world.certificate.key_pem, signatory="Li Lei",
                                   revoked_from=lost_at)
        assert set(recovered["revoked_key_ids"]) == {key_id(first.public_key()), key_id(second.public_key())}
        keys = {k["key_id"]: k for k in client.account()["keys"]}
    assert keys[key_id(second.public_key())]["revoked_at"] is not None
    assert keys[key_id(third.public_key())]["revoked_at"] is None
    with world.client(second) as client, pytest.raises(EnterpriseApiError):
        client.account()
    assert json.loads(json.dumps(recovered))["credit_code"] == CODE
