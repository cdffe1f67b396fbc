"""A delaying TCP relay: the latency of a slow link, for hosts on this machine (this kernel has no `netem`).

`python -m sandbox.relay --delay-ms 10 --route coordinator=198.18.7.1:0=198.18.7.2:7000 ...` listens on each
route's address (port 0 picks one), prints one JSON line `{"coordinator": "198.18.7.1:40123", ...}` once every
listener is bound, and forwards every connection to the route's target until SIGTERM.

Each direction of a connection holds every chunk it reads for `delay` before writing it on, in order, so a
request and its answer cross the relay in one round trip of 2 x delay. The delay is per chunk (what one
`read` returned, up to 64 KiB), not per packet: TCP on either side of the relay sees a short link, so a long
link's slow start and window limits are not modelled, only its latency. Bandwidth caps belong to the links
themselves (`tc ... tbf`, see `sandbox.network`). Connection set-up is not delayed (the relay accepts at once
and connects to the target), only the bytes that follow, TLS handshakes included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cli.parent_watch import die_with_parent_if_asked

CHUNK = 64 * 1024
# At most this many chunks wait in one direction; then the relay stops reading and TCP pushes back.
MAX_QUEUED_CHUNKS = 256


@dataclass(frozen=True)
class Route:
    """Connections accepted on `listen` (host, port; port 0 picks one) are forwarded to `target`."""

    name: str
    listen: tuple[str, int]
    target: tuple[str, int]

    @classmethod
    def parse(cls, text: str) -> Route:
        """`NAME=LISTEN_HOST:PORT=TARGET_HOST:PORT`."""
        try:
            name, listen, target = text.split("=")
            return cls(name, _host_port(listen), _host_port(target))
        except ValueError as exc:
            raise ValueError(f"route {text!r} is not NAME=HOST:PORT=HOST:PORT") from exc


def _host_port(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction, each chunk written `delay` seconds after it was read; EOF follows the same way."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_CHUNKS)

    async def read_side() -> None:
        try:
            while chunk := await reader.read(CHUNK):
                await queue.put((loop.time() + delay, chunk))
        except (ConnectionError, OSError):
            pass
        await queue.put((loop.time() + delay, b""))

    async def write_side() -> None:
        while True:
            due, chunk = await queue.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    reading = asyncio.create_task(read_side())
    try:
        await write_side()
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await reading


async def _serve_connection(route: Route, delay: float, client_reader: asyncio.StreamReader,
                            client_writer: asyncio.StreamWriter) -> None:
    try:
        target_reader, target_writer = await asyncio.open_connection(*route.target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(_carry(client_reader, target_writer, delay),
                             _carry(target_reader, client_writer, delay))
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass  # a peer went away, or the relay is stopping
    finally:
        for writer in (client_writer, target_writer):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def start_relay(routes: Sequence[Route], delay: float) -> tuple[dict[str, str], list[asyncio.Server]]:
    """Bind every route; returns each route's bound `host:port` and the servers (close them to stop)."""
    bound: dict[str, str] = {}
    servers = []
    for route in routes:
        server = await asyncio.start_server(
            lambda r, w, route=route: _serve_connection(route, delay, r, w), *route.listen)
        host, port = server.sockets[0].getsockname()[:2]
        bound[route.name] = f"{host}:{port}"
        servers.append(server)
    return bound, servers


async def _main(routes: Sequence[Route], delay: float) -> None:
    bound, servers = await start_relay(routes, delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps(bound), flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent_if_asked()
    parser = argparse.ArgumentParser(prog="python -m sandbox.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay (half the round trip)")
    parser.add_argument("--route", action="append", required=True, type=Route.parse,
                        help="NAME=LISTEN_HOST:PORT=TARGET_HOST:PORT (port 0 picks a free port)")
    args = parser.parse_args(argv)
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")
    asyncio.run(_main(args.route, args.delay_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
