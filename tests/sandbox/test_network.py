"""Hosts in network namespaces behind capped links and the delaying relay (root only; skipped elsewhere)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from sandbox.network import GRPC_PORT, SlowNetwork, unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

# Inside a namespace: answer each line with "ok", or, for "sink N", read N bytes then answer "ok".
SERVER = f"""
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {GRPC_PORT}))
s.listen()
s.settimeout(60)
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    for line in f:
        if line.startswith(b"sink "):
            f.read(int(line.split()[1]))
        c.sendall(b"ok\\n")
    c.close()
"""


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=10).stdout


@pytest.fixture
def network() -> Iterator[SlowNetwork]:
    with SlowNetwork(["source/a", "source/b"], rtt_ms=40, rate_mbit=20) as net:
        server = subprocess.Popen([*net.command_prefix("source/b"), sys.executable, "-c", SERVER])
        try:
            yield net
        finally:
            server.kill()
            server.wait(timeout=10)
    assert f"xyd-{net.run_id}-" not in _namespaces()
    assert f"xyd{net.run_id}" not in _links()


def _connect(address: str, timeout: float = 15.0) -> socket.socket:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        conn = socket.create_connection((host, int(port)), timeout=timeout)
        conn.sendall(b"hello\n")
        if conn.recv(3) == b"ok\n":  # the relay accepts before the server listens: retry until it answers
            return conn
        conn.close()
        assert time.monotonic() < deadline, "the server in the namespace never answered"
        time.sleep(0.1)


def test_each_party_has_its_own_namespace_and_address(network: SlowNetwork) -> None:
    listed = _namespaces()
    hosts = list(network.hosts.values())
    assert all(h.netns in listed for h in hosts)
    assert len({h.inner_ip for h in hosts}) == 2
    inside = subprocess.run(["ip", "-n", hosts[1].netns, "-o", "-4", "addr"], capture_output=True, text=True,
                            timeout=10).stdout
    assert hosts[1].inner_ip in inside and hosts[0].inner_ip not in inside


def test_the_relay_adds_the_round_trip(network: SlowNetwork) -> None:
    conn = _connect(network.address("source/b"))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        conn.sendall(b"ping\n")
        assert conn.recv(3) == b"ok\n"
        times.append(time.perf_counter() - started)
    conn.close()
    assert min(times) >= 0.040, times


def test_the_link_is_capped(network: SlowNetwork) -> None:
    conn = _connect(network.address("source/b"))
    size = 2_500_000  # 20 Mbit at 20 Mbit/s: one second at the cap
    started = time.perf_counter()
    conn.sendall(b"sink %d\n" % size + bytes(size))
    assert conn.recv(3) == b"ok\n"
    elapsed = time.perf_counter() - started
    conn.close()
    assert elapsed >= 0.9, f"{size} bytes in {elapsed:.2f}s: faster than 20 Mbit/s"


def test_a_party_reaches_another_only_through_the_relay(network: SlowNetwork) -> None:
    a, b = network.hosts["source/a"], network.hosts["source/b"]
    probe = ("import socket, sys\n"
             "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print('open')\n"
             "except OSError:\n    print('closed')\n")
    _connect(network.address("source/b")).close()
    via_relay = network.address("source/b").rsplit(":", 1)
    direct = subprocess.run([*network.command_prefix("source/a"), sys.executable, "-c", probe, b.inner_ip,
                             str(GRPC_PORT)], capture_output=True, text=True, timeout=20).stdout.strip()
    relayed = subprocess.run([*network.command_prefix("source/a"), sys.executable, "-c", probe, *via_relay],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    assert (direct, relayed) == ("closed", "open"), a


def test_everything_is_removed_after_a_failure() -> None:
    net = SlowNetwork(["source/a"], rtt_ms=0, rate_mbit=None)
    with pytest.raises(RuntimeError), net:
        assert net.hosts["source/a"].netns in _namespaces()
        raise RuntimeError("boom")
    assert f"xyd-{net.run_id}-" not in _namespaces()
    assert f"xyd{net.run_id}" not in _links()
