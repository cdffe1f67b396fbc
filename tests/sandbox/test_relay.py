"""The delaying relay: every chunk crosses it after the delay, in order, and a close follows the data."""

from __future__ import annotations

import asyncio
import time

import pytest

from sandbox.relay import Route, start_relay


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _round_trips(delay: float, count: int) -> list[float]:
    echo, port = await _echo_server()
    bound, servers = await start_relay([Route("echo", ("127.0.0.1", 0), ("127.0.0.1", port))], delay)
    host, relay_port = bound["echo"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(relay_port))
    times = []
    for i in range(count):
        started = time.perf_counter()
        writer.write(b"ping %d" % i)
        assert await reader.readexactly(len(b"ping %d" % i)) == b"ping %d" % i
        times.append(time.perf_counter() - started)
    writer.close()
    for server in (*servers, echo):
        server.close()
    return times


def test_a_round_trip_takes_twice_the_delay() -> None:
    times = asyncio.run(_round_trips(0.03, 5))
    assert min(times) >= 0.06, times  # one delay each way
    assert sorted(times)[len(times) // 2] < 0.06 + 0.5, times  # and not much more (a loaded 2-core machine)


def test_without_delay_it_only_forwards() -> None:
    assert min(asyncio.run(_round_trips(0.0, 5))) < 0.06


def test_many_chunks_arrive_whole_and_in_order_then_eof() -> None:
    payload = bytes(range(256)) * 40_000  # 10 MB: many chunks, more than the queue holds at once

    async def run() -> bytes:
        echo, port = await _echo_server()
        bound, servers = await start_relay([Route("echo", ("127.0.0.1", 0), ("127.0.0.1", port))], 0.002)
        host, relay_port = bound["echo"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(relay_port))

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        received = await asyncio.wait_for(reader.read(-1), 60)  # read(-1) returns at EOF only
        await sending
        writer.close()
        for server in (*servers, echo):
            server.close()
        return received

    assert asyncio.run(run()) == payload


def test_a_refused_target_closes_the_client() -> None:
    async def run() -> bytes:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead_port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        bound, servers = await start_relay([Route("dead", ("127.0.0.1", 0), ("127.0.0.1", dead_port))], 0.0)
        host, relay_port = bound["dead"].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(relay_port))
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        for server in servers:
            server.close()
        return data

    assert asyncio.run(run()) == b""


@pytest.mark.parametrize("text", ["a=1.2.3.4:0", "a=host=1.2.3.4:7", "a=h:0=h:port"])
def test_malformed_routes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="NAME=HOST:PORT=HOST:PORT"):
        Route.parse(text)
