"""The platform's fan-out to the source nodes over real mTLS gRPC, from threads and from an event loop: a
live source answers, a dead one and one that misses the deadline are named as failed, and a reply that
does not read is refused."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from federation.aio_channels import AioPeerChannels
from federation.grpc_channel import PeerChannels
from federation.pki import CertificateAuthority, Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc
from federation.server import NodeServer
from platform_node.scoring.source_fanout import FanOut, ReplyRefused, SourceEndpoint, SourceFanOut

PLATFORM = Identity("platform", "main")


class Answering(scoring_pb2_grpc.PartyScoringServicer):
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.release = threading.Event()

    def LeafMasks(self, request, context):  # noqa: N802
        if self.delay_s:
            self.release.wait(self.delay_s)
        return scoring_pb2.MaskReply(known=bytes([len(request.ids)]))


def _free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SourceFanOut, dict[str, Answering]]]:
    ca = CertificateAuthority.create(tmp_path / "pki")
    servicers = {"source/tax": Answering(), "source/court": Answering(delay_s=5.0)}
    servers, endpoints = [], []
    for party, servicer in servicers.items():
        server = NodeServer(ca.issue(Identity.parse(party)))
        server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, servicer)
        server.start()
        servers.append(server)
        endpoints.append(SourceEndpoint(party, server.address, party.split("/")[1]))
    endpoints.append(SourceEndpoint("source/utilities", _free_address(), "utilities"))  # nothing listens
    tls = ca.issue(PLATFORM)
    channels = PeerChannels(tls)
    try:
        yield SourceFanOut(endpoints, channels, AioPeerChannels(tls)), servicers
    finally:
        for servicer in servicers.values():
            servicer.release.set()
        channels.close()
        for server in servers:
            server.stop(0)


REQUEST = scoring_pb2.MaskRequest(model_id="m", ids=["a", "b"])


def _ask(fanout: SourceFanOut, way: str, parties, read, deadline_s: float) -> FanOut:
    """The blocking fan-out, or the asyncio one on a fresh uvloop loop (its channels closed after)."""
    if way == "threads":
        return fanout.ask(parties, "LeafMasks", REQUEST, read, deadline_s, what="masks")

    async def on_loop() -> FanOut:
        try:
            return await fanout.ask_async(parties, "LeafMasks", REQUEST, read, deadline_s, what="masks")
        finally:
            await fanout._aio_channels.aclose()

    return uvloop.run(on_loop())


@pytest.mark.parametrize("way", ["threads", "event loop"])
def test_a_live_source_answers_while_a_dead_and_a_slow_one_are_named(world, way: str) -> None:
    fanout, _ = world
    started = time.monotonic()
    result = _ask(fanout, way, sorted(fanout.sources), lambda reply: reply.known, 1.0)
    assert result.replies == {"source/tax": bytes([2])}
    assert result.failed == ("source/court", "source/utilities")
    assert time.monotonic() - started < 4.0  # bounded by the deadline, not by the slow source
    batch = result.unavailable(["91330100000000000X"])
    assert batch.results[0].failed_sources == ("source/court", "source/utilities")


@pytest.mark.parametrize("way", ["threads", "event loop"])
def test_an_unreadable_reply_fails_its_source(world, way: str) -> None:
    fanout, _ = world

    def refuse(reply):
        raise ReplyRefused("wrong size")

    result = _ask(fanout, way, ["source/tax"], refuse, 1.0)
    assert result.replies == {} and result.failed == ("source/tax",)


def test_the_event_loop_fan_out_needs_asyncio_channels(world) -> None:
    fanout, _ = world
    threads_only = SourceFanOut(list(fanout.sources.values()), fanout._channels)
    with pytest.raises(RuntimeError, match="asyncio channels"):
        asyncio.run(threads_only.ask_async(["source/tax"], "LeafMasks", REQUEST, lambda r: r, 1.0, what="masks"))
