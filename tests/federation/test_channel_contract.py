"""One contract, every backend: InMemoryChannel and GrpcChannel must behave alike for an algorithm."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.channel import Channel, ChannelTimeout, DuplicateTagError, InMemoryHub, UnknownPeerError
from federation.grpc_channel import GrpcChannel
from federation.pki import CertificateAuthority, Identity
from federation.proto import transport_pb2
from federation.server import NodeServer

PLATFORM, TAX = "platform/main", "source/tax"
_jobs = itertools.count()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[NodeServer, object]]]:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    started: dict[str, tuple[NodeServer, object]] = {}
    try:
        for party in (PLATFORM, TAX):
            tls = ca.issue(Identity.parse(party))
            server = NodeServer(tls)
            server.start()
            started[party] = (server, tls)
        yield started
    finally:
        for server, _ in started.values():
            server.stop(0)


@pytest.fixture(params=["memory", "grpc"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Channel, Channel]]:
    if request.param == "memory":
        hub = InMemoryHub((PLATFORM, TAX))
        yield hub.channel(PLATFORM), hub.channel(TAX)
        return
    servers = request.getfixturevalue("servers")
    job = f"job-{os.getpid()}-{next(_jobs)}"
    peers = {party: server.address for party, (server, _) in servers.items()}
    made = [
        GrpcChannel(party, job, peers, tls, server.mailboxes.open(job, set(peers) - {party}))
        for party, (server, tls) in servers.items()
    ]
    try:
        yield made[0], made[1]
    finally:
        for channel in made:
            channel.close()
        for server, _ in servers.values():
            server.mailboxes.close_job(job)


def _msg(data: bytes) -> transport_pb2.Frame:
    return transport_pb2.Frame(chunk=data)


class TestChannelContract:
    def test_round_trip_both_directions(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        platform.send(TAX, "ping", _msg(b"hello"))
        assert tax.recv(PLATFORM, "ping", transport_pb2.Frame, timeout=5).chunk == b"hello"
        tax.send(PLATFORM, "pong", _msg(b"world"))
        assert platform.recv(TAX, "pong", transport_pb2.Frame, timeout=5).chunk == b"world"

    def test_parties_name_everyone_including_me(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        assert set(platform.parties) == set(tax.parties) == {PLATFORM, TAX}
        assert (platform.me, tax.me) == (PLATFORM, TAX)

    def test_tags_are_independent_and_received_in_any_order(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        for i in range(5):
            platform.send(TAX, f"t{i}", _msg(bytes([i]) * (i + 1)))
        for i in reversed(range(5)):
            assert tax.recv(PLATFORM, f"t{i}", transport_pb2.Frame, timeout=5).chunk == bytes([i]) * (i + 1)

    def test_same_tag_in_both_directions_is_two_messages(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        platform.send(TAX, "x", _msg(b"p"))
        tax.send(PLATFORM, "x", _msg(b"t"))
        assert tax.recv(PLATFORM, "x", transport_pb2.Frame, timeout=5).chunk == b"p"
        assert platform.recv(TAX, "x", transport_pb2.Frame, timeout=5).chunk == b"t"

    def test_duplicate_tag_is_refused(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        platform.send(TAX, "once", _msg(b"1"))
        with pytest.raises(DuplicateTagError):
            platform.send(TAX, "once", _msg(b"2"))
        assert tax.recv(PLATFORM, "once", transport_pb2.Frame, timeout=5).chunk == b"1"

    def test_recv_times_out(self, pair: tuple[Channel, Channel]) -> None:
        platform, _ = pair
        with pytest.raises(ChannelTimeout) as info:
            platform.recv(TAX, "never", transport_pb2.Frame, timeout=0.2)
        assert info.value.peer == TAX and info.value.tag == "never"

    def test_large_payload_arrives_intact(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        payload = os.urandom(1 << 20) * 40  # 40 MiB, well over gRPC's default 4 MiB message limit
        platform.send(TAX, "big", _msg(payload))
        assert tax.recv(PLATFORM, "big", transport_pb2.Frame, timeout=60).chunk == payload

    def test_empty_message_round_trips(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        platform.send(TAX, "empty", transport_pb2.Frame())
        assert tax.recv(PLATFORM, "empty", transport_pb2.Frame, timeout=5) == transport_pb2.Frame()

    def test_unknown_peer_is_refused(self, pair: tuple[Channel, Channel]) -> None:
        platform, _ = pair
        with pytest.raises(UnknownPeerError):
            platform.send("source/nobody", "x", _msg(b""))
        with pytest.raises(UnknownPeerError):
            platform.recv("source/nobody", "x", transport_pb2.Frame, timeout=0.1)

    def test_scoped_views_do_not_mix(self, pair: tuple[Channel, Channel]) -> None:
        platform, tax = pair
        platform.scoped("tree-1").send(TAX, "h", _msg(b"one"))
        platform.scoped("tree-2").send(TAX, "h", _msg(b"two"))
        assert tax.scoped("tree-2").recv(PLATFORM, "h", transport_pb2.Frame, timeout=5).chunk == b"two"
        assert tax.recv(PLATFORM, "tree-1/h", transport_pb2.Frame, timeout=5).chunk == b"one"


def test_grpc_channel_refuses_a_me_its_certificate_does_not_name(tmp_path: Path) -> None:
    from federation.channel import Mailbox

    tls = CertificateAuthority.create(tmp_path).issue(Identity.parse(TAX))
    with pytest.raises(ValueError, match="certificate names"):
        GrpcChannel(PLATFORM, "j", {TAX: "127.0.0.1:1"}, tls, Mailbox())
