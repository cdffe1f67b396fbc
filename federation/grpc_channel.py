"""`GrpcChannel`: the `Channel` of real runs, pushing chunked payloads to peers' NodeServers over mutual TLS.

A client pins the server it dials: the target-name override is the expected party's DNS SAN
(`tax.source.xyd`), which only the certificate the CA issued to that party carries.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Mapping

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.channel import Channel, DuplicateTagError, M, Mailbox, PeerUnavailable, UnknownPeerError
from federation.chunking import (
    DEFAULT_CHUNK_BYTES,
    GRPC_MESSAGE_OPTIONS,
    MAX_CHUNK_BYTES,
    PUSH_METHOD,
    frame_header,
    iter_frames,
)
from federation.pki import Identity, NodeTls
from federation.proto import transport_pb2
from federation.retry import RetryPolicy

__all__ = ["GrpcChannel", "PeerChannels", "PeerRefused", "describe_failure", "open_secure_channel",
           "secure_channel_settings", "wait_until_serving"]

# gRPC waits ~1 s (and growing) before reconnecting to a peer that refused a connection; shorter, so the
# caller's own RetryPolicy decides how often a restarting peer is tried. Not `grpc.min_reconnect_backoff_ms`:
# gRPC reads it as the minimum time one connection attempt may take (default 20 s), and at 100 ms every
# attempt was cut off at the backoff (at most 2 s): a peer whose TCP + TLS + HTTP/2 set-up takes longer,
# a few round trips on a slow link or a loaded host, was never reached (tests/federation/test_slow_link_connect.py).
_RECONNECT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


def describe_failure(code: grpc.StatusCode, details: str) -> str:
    """What went wrong on a link, in an operator's words (gRPC's text names the resolver and the address
    family first: "failed to connect to all addresses; last error: ... Connection refused")."""
    text = details.lower()
    for marker, words in (("connection refused", "connection refused"), ("socket closed", "connection lost"),
                          ("connection reset", "connection lost"), ("broken pipe", "connection lost"),
                          ("cancelling all calls", "the server shut down"),
                          ("handshake", "TLS handshake failed"), ("dns resolution", "address not found"),
                          ("name resolution", "address not found")):
        if marker in text:
            return words
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "no answer in time"
    return f"{code.name}: {details}" if details else code.name


class PeerRefused(PeerUnavailable):
    """The peer's server answered but refused us (our certificate revoked/expired, or our role not allowed)."""

    def __init__(self, peer: str, address: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(peer, address, f"refused with {code.name}: {details}")
        self.code = code


def secure_channel_settings(tls: NodeTls, expected: Identity | None = None
                            ) -> tuple[grpc.ChannelCredentials, list[tuple[str, int | str]]]:
    """The credentials and options of a mutual-TLS channel presenting `tls`'s certificate and, with
    `expected`, accepting only that party's server (shared by the blocking and the asyncio channels)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_pem, private_key=tls.key_pem, certificate_chain=tls.cert_pem
    )
    options: list[tuple[str, int | str]] = [*GRPC_MESSAGE_OPTIONS, *_RECONNECT_OPTIONS]
    if expected is not None:
        options.append(("grpc.ssl_target_name_override", expected.dns_name))
    return credentials, options


def open_secure_channel(address: str, tls: NodeTls, expected: Identity | None = None) -> grpc.Channel:
    """A mutual-TLS gRPC channel presenting `tls`'s certificate; with `expected`, only that party's server
    is accepted (otherwise any CA-issued certificate valid for the address host)."""
    credentials, options = secure_channel_settings(tls, expected)
    return grpc.secure_channel(address, credentials, options=options)


def wait_until_serving(channel: grpc.Channel, *, peer: str, address: str, timeout: float) -> None:
    """Block until the peer's health service reports SERVING; raise `PeerUnavailable` after `timeout`."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=remaining, wait_for_ready=True)
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                raise PeerRefused(peer, address, err.code(), err.details() or "") from err
            reason = f"{err.code().name}: {err.details()}"
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            continue
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return
        reason = f"health status {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    raise PeerUnavailable(peer, address, f"not serving within {timeout:.1f}s ({reason})")


class PeerChannels:
    """One open gRPC channel per (address, expected party), shareable by every job of a process."""

    def __init__(self, tls: NodeTls) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._open: dict[tuple[str, Identity], grpc.Channel] = {}

    def get(self, address: str, expected: Identity) -> grpc.Channel:
        with self._lock:
            key = (address, expected)
            channel = self._open.get(key)
            if channel is None:
                channel = self._open[key] = open_secure_channel(address, self.tls, expected)
            return channel

    def close(self) -> None:
        with self._lock:
            channels, self._open = list(self._open.values()), {}
        for channel in channels:
            channel.close()


class GrpcChannel(Channel):
    """The parties of one job talking over mutual TLS: send pushes into the peer's mailbox, recv reads ours."""

    def __init__(
        self,
        me: str,
        job_id: str,
        peers: Mapping[str, str],
        tls: NodeTls,
        mailbox: Mailbox,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so a shared default is safe
        send_timeout: float = 600.0,
        open_wait: float = 60.0,
        channels: PeerChannels | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if me != tls.identity.party:
            raise ValueError(f"me={me!r} but the certificate names {tls.identity.party!r}")
        if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes must be in 1..{MAX_CHUNK_BYTES}")
        if send_timeout <= 0 or open_wait <= 0:
            raise ValueError("send_timeout and open_wait must be positive")
        if not job_id:
            raise ValueError("job_id must not be empty")
        self.me = me
        self.job_id = job_id
        self._peers = {party: address for party, address in peers.items() if party != me}
        self._expected = {party: Identity.parse(party) for party in self._peers}
        self._parties = tuple(dict.fromkeys([*peers, me]))
        self._mailbox = mailbox
        self._chunk_bytes = chunk_bytes
        self._retry = retry
        self._send_timeout = send_timeout
        self._open_wait = open_wait
        self._owns_channels = channels is None
        self._channels = channels if channels is not None else PeerChannels(tls)
        self._rng = rng if rng is not None else random.Random()

    @property
    def parties(self) -> tuple[str, ...]:
        return self._parties

    def send(self, to: str, tag: str, message: Message) -> None:
        if to not in self._parties:
            raise UnknownPeerError(f"{to} is not a party of job {self.job_id}: {self._parties}")
        payload = message.SerializeToString()
        if to == self.me:
            try:
                self._mailbox.put(self.me, tag, payload)
            except DuplicateTagError as exc:
                raise DuplicateTagError(self.me, to, tag) from exc
            return
        self._push(to, tag, payload)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        if frm not in self._parties:
            raise UnknownPeerError(f"{frm} is not a party of job {self.job_id}: {self._parties}")
        payload = self._mailbox.take(frm, tag, timeout)
        message = message_type()
        message.ParseFromString(payload)
        return message

    def wait_for_peers(self, timeout: float = 30.0) -> None:
        """Block until every peer's server reports SERVING; raise `PeerUnavailable` for the first that does not."""
        deadline = time.monotonic() + timeout
        for party, address in self._peers.items():
            channel = self._channels.get(address, self._expected[party])
            wait_until_serving(
                channel, peer=party, address=address, timeout=max(0.0, deadline - time.monotonic())
            )

    def close(self) -> None:
        """Close the gRPC channels this object opened (a shared `PeerChannels` stays open)."""
        if self._owns_channels:
            self._channels.close()

    def __enter__(self) -> GrpcChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _push(self, to: str, tag: str, payload: bytes) -> None:
        address = self._peers[to]
        # Frames go out pre-encoded (no request serializer): see `iter_frames`.
        push = self._channels.get(address, self._expected[to]).stream_unary(
            PUSH_METHOD, request_serializer=None, response_deserializer=transport_pb2.PushAck.FromString
        )
        # One push id for all attempts: if an attempt was delivered but its ack lost, the retry is a no-op.
        header = frame_header(self.job_id, tag, payload, push_id=secrets.token_bytes(16))
        deadline = time.monotonic() + self._send_timeout
        attempt = 0
        not_open_since: float | None = None
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerUnavailable(
                    to, address, f"send of {tag!r} not done within {self._send_timeout:.1f}s"
                )
            try:
                push(iter_frames(header, payload, chunk_bytes=self._chunk_bytes), timeout=remaining)
                return
            except grpc.RpcError as err:
                code, details = err.code(), err.details() or ""
            except ValueError as err:  # gRPC's "Cannot invoke RPC on closed channel": this process is stopping
                raise PeerUnavailable(to, address, "this node's channels were closed (it is stopping)") from err
            if code == grpc.StatusCode.NOT_FOUND:
                # The peer has not opened this stage (yet): the coordinator starts every party's task at once,
                # so a party may send before another's task arrived. Wait for it, while our own stage runs.
                now = time.monotonic()
                not_open_since = now if not_open_since is None else not_open_since
                if self._mailbox.closed:
                    raise PeerUnavailable(to, address, "our stage ended before the peer opened its own")
                if now - not_open_since >= self._open_wait:
                    raise PeerUnavailable(to, address, f"stage not open at the peer within {self._open_wait:.1f}s")
                attempt -= 1  # waiting for the peer's stage is not a failed attempt
                waited = now - not_open_since
                time.sleep(min(0.05 + waited / 4, 1.0, max(0.0, deadline - now)))
                continue
            if code == grpc.StatusCode.ALREADY_EXISTS:
                raise DuplicateTagError(self.me, to, tag)
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                raise PeerRefused(to, address, code, details)
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PeerUnavailable(
                    to, address, f"send of {tag!r} not done within {self._send_timeout:.1f}s"
                )
            if not self._retry.should_retry(code, attempt):
                raise PeerUnavailable(to, address, f"{describe_failure(code, details)} after {attempt} attempt(s)")
            time.sleep(min(self._retry.delay(attempt, self._rng), max(0.0, deadline - time.monotonic())))
