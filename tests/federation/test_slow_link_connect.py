"""A peer behind a slow link can still be reached: gRPC gives each connection attempt (TCP, TLS and HTTP/2
set-up, a few round trips) its default 20 s, not the 0.1-2 s of the reconnect backoff."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.grpc_channel import open_secure_channel, wait_until_serving
from federation.pki import CertificateAuthority, Identity
from federation.server import NodeServer

TAX = Identity("source", "tax")
ONE_WAY_DELAY_MS = 1000  # a 2 s round trip: the set-up needs two, past the 2 s cap of the reconnect backoff


@pytest.fixture
def slow_route(tmp_path: Path) -> Iterator[tuple[str, CertificateAuthority]]:
    ca = CertificateAuthority.create(tmp_path / "pki")
    with NodeServer(ca.issue(TAX), bind="127.0.0.1:0") as server:
        relay = subprocess.Popen([sys.executable, "-m", "sandbox.relay", "--delay-ms", str(ONE_WAY_DELAY_MS),
                                  "--route", f"tax=127.0.0.1:0=127.0.0.1:{server.port}"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            yield json.loads(relay.stdout.readline())["tax"], ca
        finally:
            relay.terminate()
            relay.wait(timeout=10)
            relay.stdout.close()


def test_a_peer_two_seconds_away_is_reached(slow_route) -> None:
    address, ca = slow_route
    channel = open_secure_channel(address, ca.issue(Identity("platform", "main")), TAX)
    try:
        wait_until_serving(channel, peer=TAX.party, address=address, timeout=40)
    finally:
        channel.close()
