"""PSI over the real transport: two NodeServers with mutual TLS, the TCP bytes between them captured."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message

from federation.channel import Channel, M
from federation.grpc_channel import GrpcChannel
from federation.pki import CertificateAuthority, Identity
from federation.psi import PsiResult, run_psi_follower, run_psi_leader
from federation.server import NodeServer
from tests.federation.test_psi import FOLLOWER, LEADER, credit_codes
from tests.federation.test_psi_wire import id_fingerprints


class TcpRecorder:
    """A loopback TCP relay to `target` that keeps every byte it forwards, both directions."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self.captured = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = [self._listener]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                with self._lock:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked in accept/recv
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


class RecordingChannel(Channel):
    """Wraps a channel and keeps every message body it receives: the plaintext the peer sent."""

    def __init__(self, inner: Channel) -> None:
        self._inner = inner
        self.me = inner.me
        self.received: list[bytes] = []

    @property
    def parties(self) -> tuple[str, ...]:
        return self._inner.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self._inner.send(to, tag, message)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        message = self._inner.recv(frm, tag, message_type, timeout)
        self.received.append(tag.encode() + message.SerializeToString())
        return message


@pytest.fixture()
def grpc_pair(tmp_path: Path) -> Iterator[tuple[RecordingChannel, RecordingChannel, list[TcpRecorder]]]:
    ca = CertificateAuthority.create(tmp_path / "pki")
    servers: dict[str, NodeServer] = {}
    relays: list[TcpRecorder] = []
    channels: list[GrpcChannel] = []
    try:
        tls = {party: ca.issue(Identity.parse(party)) for party in (LEADER, FOLLOWER)}
        for party, party_tls in tls.items():
            servers[party] = NodeServer(party_tls)
            servers[party].start()
        # Each side dials the other through a recording relay, so every byte on the wire is captured.
        relays = [TcpRecorder(servers[party].address) for party in (LEADER, FOLLOWER)]
        dial = {LEADER: relays[0].address, FOLLOWER: relays[1].address}
        for party in (LEADER, FOLLOWER):
            mailbox = servers[party].mailboxes.open("job-psi", set(dial) - {party})
            channels.append(GrpcChannel(party, "job-psi", dial, tls[party], mailbox))
        yield RecordingChannel(channels[0]), RecordingChannel(channels[1]), relays
    finally:
        for channel in channels:
            channel.close()
        for server in servers.values():
            server.stop(0)
        for relay in relays:
            relay.close()


def test_psi_over_mutual_tls_is_exact_and_no_id_form_is_on_the_wire(
        grpc_pair: tuple[RecordingChannel, RecordingChannel, list[TcpRecorder]]) -> None:
    leader_channel, follower_channel, relays = grpc_pair
    rng = random.Random(31)
    pool = credit_codes(rng, 1500)
    leader_ids, follower_ids = pool[:1000], pool[600:]
    outcome: dict[str, PsiResult | BaseException] = {}

    def follow() -> None:
        try:
            outcome["follower"] = run_psi_follower(follower_channel, LEADER, follower_ids, reveal_to_me=False,
                                                   batch_size=256, timeout=60)
        except BaseException as exc:  # handed to the test thread below
            outcome["follower"] = exc

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    leader = run_psi_leader(leader_channel, FOLLOWER, leader_ids, reveal_to_peer=False, batch_size=300, timeout=60)
    thread.join(timeout=60)
    follower = outcome["follower"]
    assert isinstance(follower, PsiResult), follower
    expected = sorted(set(leader_ids) & set(follower_ids))
    assert leader.size == follower.size == len(expected) == 400
    assert leader.intersection == expected and follower.intersection is None

    plaintext = b"".join(leader_channel.received + follower_channel.received)
    tcp = bytes(relays[0].captured + relays[1].captured)
    assert len(plaintext) > 32 * 2000 and len(tcp) > len(plaintext)
    forms = id_fingerprints(pool)
    assert [form for form in forms if form in plaintext] == []
    assert [form for form in forms if form in tcp] == []
    # TLS hides even the blinded points: none of the message bodies appears in the TCP stream.
    assert not any(body[-64:] in tcp for body in leader_channel.received if len(body) > 64)
