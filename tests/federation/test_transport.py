"""The gRPC data plane: framing, retries, dead peers, idempotent pushes, and a peer in another OS process."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.call_limits import CallLimits
from federation.channel import Mailbox, PeerUnavailable
from federation.chunking import (
    FramingError,
    PayloadCorrupted,
    Reassembly,
    encode_chunk,
    frame_header,
    iter_frames,
    parse_frame,
)
from federation.grpc_channel import GrpcChannel, PeerRefused, open_secure_channel
from federation.pki import CertificateAuthority, CertificateNotValid, Identity, NodeTls, utcnow
from federation.proto import transport_pb2, transport_pb2_grpc
from federation.retry import RetryPolicy
from federation.server import NodeServer

REPO = Path(__file__).resolve().parents[2]
TAX, PLATFORM = Identity("source", "tax"), Identity("platform", "main")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    ca.issue(TAX)
    ca.issue(PLATFORM)
    return ca


@pytest.fixture(scope="module")
def tax_server(ca: CertificateAuthority) -> Iterator[NodeServer]:
    server = NodeServer(NodeTls.load_issued(ca.directory, TAX), limits=CallLimits(max_message_bytes=1 << 20))
    server.start()
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def platform_tls(ca: CertificateAuthority) -> NodeTls:
    return NodeTls.load_issued(ca.directory, PLATFORM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- framing -------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_frames_reassemble_to_the_payload(payload: bytes, chunk: int) -> None:
    wire = list(iter_frames(frame_header("j", "t", payload, push_id=b"p"), payload, chunk_bytes=chunk))
    frames = [transport_pb2.Frame.FromString(raw) for raw in wire]
    assert frames[0].WhichOneof("body") == "header"
    assert [bytes(parse_frame(raw)) for raw in wire[1:]] == [f.chunk for f in frames[1:]]
    assert len(frames) == 1 + math.ceil(len(payload) / chunk)
    assert all(len(f.chunk) <= chunk for f in frames[1:])
    assembly = Reassembly(frames[0].header)
    for frame in frames[1:]:
        assembly.add(frame.chunk)
    assert bytes(assembly.finish()) == payload


@settings(max_examples=40, deadline=None)
@given(chunk=st.binary(max_size=70000))
def test_hand_encoded_chunk_frames_are_protobuf_frames(chunk: bytes) -> None:
    assert encode_chunk(chunk) == transport_pb2.Frame(chunk=chunk).SerializeToString()
    assert bytes(parse_frame(encode_chunk(chunk))) == chunk


def test_parse_frame_accepts_any_valid_encoding_and_refuses_the_rest() -> None:
    header = frame_header("j", "t", b"abc", push_id=b"")
    assert parse_frame(transport_pb2.Frame(header=header).SerializeToString()) == header
    # Two concatenated frames are one valid frame whose last oneof member wins (protobuf merge rules).
    assert bytes(parse_frame(encode_chunk(b"ab") + encode_chunk(b"cd"))) == b"cd"
    with pytest.raises(FramingError, match="neither"):
        parse_frame(transport_pb2.Frame().SerializeToString())
    with pytest.raises(FramingError, match="undecodable"):
        parse_frame(b"\x12\x05ab")


def test_reassembly_detects_truncation_overflow_and_corruption() -> None:
    header = frame_header("j", "t", b"abcdef", push_id=b"")
    short = Reassembly(header)
    short.add(b"abc")
    with pytest.raises(FramingError, match="after 3 of 6"):
        short.finish()
    with pytest.raises(FramingError, match="more than"):
        Reassembly(header).add(b"abcdefg")
    corrupt = Reassembly(header)
    corrupt.add(b"abcdeF")
    with pytest.raises(PayloadCorrupted):
        corrupt.finish()
    with pytest.raises(FramingError, match="exceeds"):
        Reassembly(header, max_payload_bytes=5)


# ---- retry policy --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    initial=st.floats(0.01, 1.0),
    cap=st.floats(1.0, 10.0),
    multiplier=st.floats(1.0, 4.0),
    jitter=st.floats(0.0, 0.9),
    attempt=st.integers(1, 30),
    seed=st.integers(0, 2**32),
)
def test_backoff_grows_is_capped_and_jitter_stays_in_bounds(
    initial: float, cap: float, multiplier: float, jitter: float, attempt: int, seed: int
) -> None:
    policy = RetryPolicy(initial_backoff=initial, max_backoff=cap, multiplier=multiplier, jitter=jitter)
    base = min(cap, initial * multiplier ** (attempt - 1))
    delay = policy.delay(attempt, random.Random(seed))
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    no_jitter = RetryPolicy(initial_backoff=initial, max_backoff=cap, multiplier=multiplier, jitter=0.0)
    assert no_jitter.delay(attempt + 1, random.Random(seed)) >= no_jitter.delay(attempt, random.Random(seed))


def test_retry_policy_validates_and_retries_only_transient_codes() -> None:
    for bad in (
        {"max_attempts": 0},
        {"initial_backoff": 0},
        {"multiplier": 0.5},
        {"jitter": 1.0},
        {"initial_backoff": 2.0, "max_backoff": 1.0},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(grpc.StatusCode.UNAVAILABLE, 2)
    assert not policy.should_retry(grpc.StatusCode.UNAVAILABLE, 3)
    assert not policy.should_retry(grpc.StatusCode.PERMISSION_DENIED, 1)


# ---- dead and late peers -------------------------------------------------------------------------


def test_send_to_a_closed_port_raises_peer_unavailable_in_bounded_time(platform_tls: NodeTls) -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=0.05, max_backoff=0.2)
    address = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with (
        pytest.raises(PeerUnavailable) as info,
        GrpcChannel(
            "platform/main", "j", {"source/tax": address}, platform_tls, Mailbox(), retry=policy
        ) as channel,
    ):
        channel.send("source/tax", "t", transport_pb2.Frame(chunk=b"x"))
    elapsed = time.monotonic() - started
    assert not isinstance(info.value, PeerRefused)
    assert info.value.peer == "source/tax" and info.value.address == address
    assert info.value.reason == "connection refused after 4 attempt(s)"
    assert str(info.value) == f"peer source/tax at {address} unavailable: connection refused after 4 attempt(s)"
    assert elapsed < policy.worst_case_seconds() + 2.0


def test_send_timeout_bounds_a_send_whatever_the_retry_policy(platform_tls: NodeTls) -> None:
    patient = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.1)
    started = time.monotonic()
    with (
        pytest.raises(PeerUnavailable, match="within 0.5s"),
        GrpcChannel(
            "platform/main",
            "j",
            {"source/tax": f"127.0.0.1:{_free_port()}"},
            platform_tls,
            Mailbox(),
            retry=patient,
            send_timeout=0.5,
        ) as channel,
    ):
        channel.send("source/tax", "t", transport_pb2.Frame())
    assert time.monotonic() - started < 2.0


def test_send_retries_until_a_late_peer_starts(ca: CertificateAuthority, platform_tls: NodeTls) -> None:
    port = _free_port()
    tax_tls = NodeTls.load_issued(ca.directory, TAX)
    late = NodeServer(tax_tls, bind=f"127.0.0.1:{port}")
    late.mailboxes.open("j-late", {"platform/main"})
    starter = threading.Timer(0.4, late.start)
    policy = RetryPolicy(max_attempts=20, initial_backoff=0.1, max_backoff=0.3)
    try:
        starter.start()
        with GrpcChannel(
            "platform/main",
            "j-late",
            {"source/tax": f"127.0.0.1:{port}"},
            platform_tls,
            Mailbox(),
            retry=policy,
        ) as channel:
            channel.send("source/tax", "hello", transport_pb2.Frame(chunk=b"late"))
        got = late.mailboxes.for_job("j-late").take("platform/main", "hello", timeout=1)
        assert transport_pb2.Frame.FromString(got).chunk == b"late"
    finally:
        starter.join()
        late.stop(0)


def test_wait_for_peers(tax_server: NodeServer, platform_tls: NodeTls) -> None:
    with GrpcChannel(
        "platform/main", "j", {"source/tax": tax_server.address}, platform_tls, Mailbox()
    ) as channel:
        channel.wait_for_peers(timeout=5)
    dead = {"source/tax": f"127.0.0.1:{_free_port()}"}
    with (
        pytest.raises(PeerUnavailable, match="not serving within"),
        GrpcChannel("platform/main", "j", dead, platform_tls, Mailbox()) as channel,
    ):
        channel.wait_for_peers(timeout=0.5)


# ---- the Mailbox service refuses malformed pushes ------------------------------------------------


def _push(server: NodeServer, tls: NodeTls, frames: list[transport_pb2.Frame]) -> grpc.StatusCode:
    channel = open_secure_channel(server.address, tls, TAX)
    try:
        transport_pb2_grpc.MailboxStub(channel).Push(iter(frames), timeout=5)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()
    finally:
        channel.close()


def _header(job: str, tag: str, payload: bytes, push_id: bytes = b"") -> transport_pb2.Frame:
    return transport_pb2.Frame(header=frame_header(job, tag, payload, push_id=push_id))


def test_malformed_pushes_get_precise_status_codes(tax_server: NodeServer, platform_tls: NodeTls) -> None:
    chunk = transport_pb2.Frame(chunk=b"data")
    bad_digest = transport_pb2.FrameHeader(
        job_id="j-bad", tag="t", total_bytes=4, sha256=hashlib.sha256(b"x").digest()
    )
    tax_server.mailboxes.open("j-bad", {"platform/main"}, max_message_bytes=1 << 20)
    cases = {
        "no such session": ([_header("j-none", "t", b"data"), chunk], grpc.StatusCode.NOT_FOUND),
        "malformed session": ([_header("../j-bad", "t", b"data"), chunk], grpc.StatusCode.INVALID_ARGUMENT),
        "tag too long": ([_header("j-bad", "t" * 513, b"data"), chunk], grpc.StatusCode.INVALID_ARGUMENT),
        "no header": ([chunk], grpc.StatusCode.INVALID_ARGUMENT),
        "empty stream": ([], grpc.StatusCode.INVALID_ARGUMENT),
        "corrupt": ([transport_pb2.Frame(header=bad_digest), chunk], grpc.StatusCode.DATA_LOSS),
        "truncated": ([_header("j-bad", "t2", b"data+more"), chunk], grpc.StatusCode.INVALID_ARGUMENT),
        "overflow": ([_header("j-bad", "t3", b"da"), chunk], grpc.StatusCode.INVALID_ARGUMENT),
        "two headers": (
            [_header("j-bad", "t4", b"data"), _header("j-bad", "t4", b"data")],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "too large": ([_header("j-bad", "t5", bytes(2 << 20))], grpc.StatusCode.INVALID_ARGUMENT),
    }
    got = {name: _push(tax_server, platform_tls, frames) for name, (frames, _) in cases.items()}
    assert got == {name: code for name, (_, code) in cases.items()}
    assert tax_server.mailboxes.for_job("j-bad").pending() == 0


def test_a_retried_push_is_delivered_once(tax_server: NodeServer, platform_tls: NodeTls) -> None:
    payload = b"once"
    tax_server.mailboxes.open("j-idem", {"platform/main"})
    first = [_header("j-idem", "t", payload, push_id=b"A"), transport_pb2.Frame(chunk=payload)]
    other = [_header("j-idem", "t", payload, push_id=b"B"), transport_pb2.Frame(chunk=payload)]
    assert _push(tax_server, platform_tls, first) == grpc.StatusCode.OK
    assert _push(tax_server, platform_tls, first) == grpc.StatusCode.OK
    assert _push(tax_server, platform_tls, other) == grpc.StatusCode.ALREADY_EXISTS
    box = tax_server.mailboxes.for_job("j-idem")
    assert box.pending() == 1 and box.take("platform/main", "t", timeout=1) == payload


def test_pushes_to_a_closed_job_are_refused(tax_server: NodeServer, platform_tls: NodeTls) -> None:
    tax_server.mailboxes.open("j-closed", {"platform/main"})
    tax_server.mailboxes.close_job("j-closed")
    frames = [_header("j-closed", "t", b"x"), transport_pb2.Frame(chunk=b"x")]
    assert _push(tax_server, platform_tls, frames) == grpc.StatusCode.FAILED_PRECONDITION


# ---- a peer in another OS process ----------------------------------------------------------------


def test_exchange_with_a_peer_in_a_separate_process(ca: CertificateAuthority, platform_tls: NodeTls) -> None:
    job, count = "j-proc", 3
    payloads = [os.urandom(64), os.urandom(3 << 20), b""]
    with NodeServer(platform_tls) as me:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.federation.peer_process",
                "--pki",
                str(ca.directory),
                "--me",
                "source/tax",
                "--peer",
                f"platform/main={me.address}",
                "--job",
                job,
                "--count",
                str(count),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            port = _read_port(proc, timeout=30)
            peers = {"source/tax": f"127.0.0.1:{port}"}
            mailbox = me.mailboxes.open(job, {"source/tax"})
            with GrpcChannel("platform/main", job, peers, platform_tls, mailbox) as channel:
                for i, payload in enumerate(payloads):
                    channel.send("source/tax", f"ping/{i}", transport_pb2.Frame(chunk=payload))
                for i, payload in enumerate(payloads):
                    pong = channel.recv("source/tax", f"pong/{i}", transport_pb2.Frame, timeout=30)
                    assert pong.chunk == payload[::-1]
            assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def _read_port(proc: subprocess.Popen[str], *, timeout: float) -> int:
    """The port the child announces on stdout, read on a thread so a silent child cannot hang the test."""
    found: list[str] = []
    reader = threading.Thread(
        target=lambda: found.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    if not found or not found[0].startswith("PORT "):
        proc.kill()
        raise AssertionError(
            f"peer did not announce its port: {found!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return int(found[0].split()[1])


def test_a_taken_port_or_expired_own_certificate_stops_the_server_from_starting(
    ca: CertificateAuthority, tax_server: NodeServer
) -> None:
    tax_tls = NodeTls.load_issued(ca.directory, TAX)
    with pytest.raises(OSError, match="cannot bind"):
        NodeServer(tax_tls, bind=f"127.0.0.1:{tax_server.port}").start()
    expired = ca.issue(Identity("source", "ip"), now=utcnow() - dt.timedelta(days=30), days=1)
    with pytest.raises(CertificateNotValid):
        NodeServer(expired).start()
