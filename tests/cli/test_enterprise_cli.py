"""`xyd enterprise` and `xyd enterprise-ca` as separate processes against a real `xyd api serve` process:
a local CA issues the enterprise's certificate, the enterprise creates its key on its side, signs up, reads
its account, rotates its key and, after "losing" it, recovers with a fresh identity proof. The key file stays
0600 on the enterprise's side and no store of the platform holds the private key."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cli.enterprise_client import EnterpriseClient, Profile, load_key
from tests.platform_node.world import enterprises, write_scorecard_model

ROOT = Path(__file__).resolve().parents[2]
CODE = enterprises(2)[1]
pytestmark = pytest.mark.timeout(180)


def xyd(*argv: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check:
        assert done.returncode == 0, done.stderr
    return done


def private_material(key_file: Path) -> list[bytes]:
    """The forms an Ed25519 private key could be stored in: raw seed, its hex and base64, the PEM body."""
    import base64

    key = load_key(key_file)
    raw = key.private_bytes_raw()
    pem_body = b"".join(key_file.read_bytes().splitlines()[1:-1])
    return [raw, raw.hex().encode(), base64.b64encode(raw), pem_body]


def stores(folder: Path) -> bytes:
    """Every byte the platform keeps: its database files, its logs, its secrets and settings."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@dataclass
class Platform:
    url: str
    folder: Path
    ca: Path


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("platform")
    ca = tmp_path_factory.mktemp("enterprise-ca")
    xyd("enterprise-ca", "init", "--dir", str(ca), cwd=ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (folder / "api.toml").write_text("\n".join([
        "[api]", 'database_url = "sqlite:///api.db"', 'secrets_file = "master.key"', f"port = {port}",
        f'scorer_model_file = "{write_scorecard_model(folder, enterprises(3))}"', "run_ticker = false", "",
        "[api.enterprise]", 'identity_provider = "local-certificate"', "",
        "[api.enterprise.provider_options]", f'certificate_ca = "{ca / "ca.pem"}"', "",
    ]), encoding="utf-8")
    xyd("enterprise-ca", "issue", "--dir", str(ca), "--credit-code", CODE, "--name", "Demo Textiles Co.", cwd=ROOT)
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "api", "serve", "--config", str(folder / "api.toml")],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                               stderr=log)
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "the API server did not come up"
                time.sleep(0.1)
        yield Platform(f"http://127.0.0.1:{port}", folder, ca)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def test_the_enterprise_keeps_its_key_through_signup_rotation_and_recovery(platform: Platform, tmp_path: Path) -> None:
    ca = platform.ca
    cert, cert_key = ca / "enterprises" / CODE / "cert.pem", ca / "enterprises" / CODE / "key.pem"
    profile = tmp_path / "enterprise.toml"
    xyd("enterprise", "init", "--profile", str(profile), "--api", platform.url, "--credit-code", CODE, cwd=tmp_path)
    key_file = tmp_path / "enterprise.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    first = private_material(key_file)
    identity = ["--certificate", str(cert), "--certificate-key", str(cert_key), "--signatory", "Li Lei"]
    signed_up = json.loads(xyd("enterprise", "signup", "--profile", str(profile), *identity, cwd=tmp_path).stdout)

    rotated = json.loads(xyd("enterprise", "rotate", "--profile", str(profile), cwd=tmp_path).stdout)
    second = private_material(key_file)
    assert rotated["key_id"] != signed_up["key_id"] and key_file.stat().st_mode & 0o777 == 0o600

    key_file.unlink()  # the key is lost
    lost_since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    recovered = json.loads(xyd("enterprise", "recover", "--profile", str(profile), *identity,
                               "--revoked-from", lost_since, cwd=tmp_path).stdout)
    assert set(recovered["revoked_key_ids"]) == {signed_up["key_id"], rotated["key_id"]}
    again = xyd("enterprise", "signup", "--profile", str(profile), *identity, cwd=tmp_path, check=False)
    assert again.returncode == 1 and "ALREADY_SIGNED_UP" in again.stderr
    with EnterpriseClient(Profile.load(profile), key=load_key(key_file)) as client:  # the recovered key signs
        account = client.account()
    assert account["name"] == "Demo Textiles Co."
    assert {k["key_id"] for k in account["keys"] if k["revoked_at"] is None} == {recovered["key_id"]}

    held = stores(platform.folder)
    for material in (*first, *second, *private_material(key_file)):
        assert material not in held, "a private key reached a store of the platform"
