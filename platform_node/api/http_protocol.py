"""uvicorn's HTTP/1.1 protocol (httptools) with bounds on a request's head: its size and the time to send it.

uvicorn reads a request's line and headers without a limit on either: a 50 MB header was read in full before
the 401, and a connection that sends its headers a byte at a time (slowloris) was held open indefinitely.
Here a head (request line and headers) larger than `MAX_HEAD_BYTES` is answered `431` and the connection
closed, and a head not complete within `HEAD_TIMEOUT_S` of its first byte (or of the connection, for one that
sends nothing) is answered `408` and closed. Both happen before the app sees the request. The size is counted
twice: the parsed request line and headers (exact), and the bytes received while the head is incomplete
(for one header still being buffered by the parser; it never counts a body).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
HEAD_TIMEOUT_S = 10.0
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` refusing oversized or slow request heads (see the module docstring); `bounded`
    makes a subclass with other limits."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_s = HEAD_TIMEOUT_S

    @classmethod
    def bounded(cls, *, max_head_bytes: int, head_timeout_s: float) -> type[BoundedHttpToolsProtocol]:
        return type(cls.__name__, (cls,), {"max_head_bytes": max_head_bytes, "head_timeout_s": head_timeout_s})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head, self._too_large = True, False
        self._head_bytes = self._parsed_head = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:  # one header still being buffered
            self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._parsed_head, self._too_large = True, 0, 0, False
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        """Count a parsed part of the head; past the limit, stop the parser (uvicorn then answers through
        `send_400_response`, which answers 431 instead)."""
        self._parsed_head += size
        if self._parsed_head > self.max_head_bytes:
            self._too_large = True
            raise _HeadTooLarge()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_too_large()
        else:
            super().send_400_response(msg)

    def _refuse_too_large(self) -> None:
        self._refuse(431, "REQUEST_HEAD_TOO_LARGE", f"the request line and headers exceed {self.max_head_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(408, "REQUEST_TIMEOUT", f"the request's headers took longer than {self.head_timeout_s:g} s")

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._cancel_head_timer()
        if self.transport is None or self.transport.is_closing():
            return
        body = json.dumps({"code": code, "message": message}).encode()
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body))
        self.transport.close()
