"""A lean closed-loop HTTP load generator for the API benchmarks.

`concurrency` HTTP/1.1 keep-alive connections on one uvloop event loop, each sending its
next request as soon as the previous answer is complete. The client runs on the same two cores as the
servers it measures, so it must cost little and add no queueing of its own: httpx cost about a millisecond
of client CPU per request (a hello-world FastAPI endpoint measured 571 requests/s at p99 64 ms); sixteen
`http.client` threads cost 0.3 ms and queued on their own GIL when answers came back together; this
client parses only the status line and Content-Length, which the API always sends.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import uvloop


@dataclass(frozen=True)
class LoadResult:
    latencies_s: list[float]
    errors: list[str]
    wall_s: float

    def summary(self) -> dict:
        ordered = sorted(self.latencies_s)
        return {
            "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 2) if ordered else None,
            "requests_per_s": round(len(ordered) / self.wall_s, 1) if self.wall_s else None,
        }


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank `q` quantile of an ascending list."""
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Answer:
    """Incremental reader of one HTTP/1.1 response with a Content-Length."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.status = 0
        self.body_at = -1
        self.length = -1

    def feed(self, data: bytes) -> bytes | None:
        """Add bytes; the body once the whole response is in, else None. Raises ValueError if unreadable."""
        self.buffer += data
        if self.body_at < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            head = bytes(self.buffer[:end]).split(b"\r\n")
            parts = head[0].split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise ValueError(f"bad status line {head[0][:60]!r}")
            self.status = int(parts[1])
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.length = int(value.strip())
            if self.length < 0:
                raise ValueError("answer without Content-Length")
            self.body_at = end + 4
        if len(self.buffer) - self.body_at < self.length:
            return None
        if len(self.buffer) - self.body_at > self.length:
            raise ValueError("bytes after the answer (pipelining is not used)")
        return bytes(self.buffer[self.body_at:])


class _Client(asyncio.Protocol):
    """One keep-alive connection sending requests one after another until the shared counter runs out."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._transport: asyncio.Transport | None = None
        self._answer = _Answer()
        self._started = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.closed: asyncio.Future = run.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._send_next()

    def _send_next(self) -> None:
        request = self._run.next_request()
        if request is None:
            self._transport.close()
            return
        self._answer = _Answer()
        self._timer = self._run.loop.call_later(self._run.timeout_s, self._give_up)
        self._started = time.perf_counter()
        self._transport.write(request)

    def _give_up(self) -> None:
        self._run.errors.append("timeout")
        self._timer = None
        self._transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            body = self._answer.feed(data)
        except ValueError as error:
            self._run.errors.append(str(error))
            self._transport.abort()
            return
        if body is None:
            return
        elapsed = time.perf_counter() - self._started
        self._timer.cancel()
        self._timer = None
        if self._answer.status == 200:
            self._run.latencies.append(elapsed)
        else:
            self._run.errors.append(f"{self._answer.status} {body[:120]!r}")
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:  # an answer was still expected
            self._timer.cancel()
            self._run.errors.append(f"connection lost: {type(exc).__name__ if exc else 'closed by server'}")
        if not self.closed.done():
            self.closed.set_result(None)


class _Run:
    def __init__(self, loop: asyncio.AbstractEventLoop, requests: Iterator[bytes], timeout_s: float) -> None:
        self.loop, self.timeout_s = loop, timeout_s
        self._requests = requests
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def next_request(self) -> bytes | None:
        return next(self._requests, None)


def _request_bytes(host: str, port: int, path: str, headers: dict[str, str], body: dict) -> bytes:
    payload = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(payload)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def run_closed_loop(url: str, path: str, headers: dict[str, str], body_for: Callable[[int], dict], *,
                    requests: int, concurrency: int, timeout_s: float = 30.0) -> LoadResult:
    """POST `body_for(i)` for i in range(requests) over `concurrency` connections; a non-200 answer, a
    timeout or a lost connection is an error (a lost connection is not reopened: its share moves to the
    others)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    # Requests are built before the clock starts, so the measured loop only sends and reads.
    prepared = [_request_bytes(host, port, path, headers, body_for(i)) for i in range(requests)]

    async def main() -> LoadResult:
        loop = asyncio.get_running_loop()
        run = _Run(loop, iter(prepared), timeout_s)
        started = time.perf_counter()
        clients = []
        for _ in range(concurrency):
            _, client = await loop.create_connection(lambda: _Client(run), host, port)
            clients.append(client)
        await asyncio.gather(*(c.closed for c in clients))
        return LoadResult(run.latencies, run.errors, time.perf_counter() - started)

    return uvloop.run(main())
