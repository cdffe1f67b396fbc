"""One webhook POST to the address that was checked, under one deadline for the whole attempt.

The URL keeps its host name, so `Host` and TLS's server name (and the certificate check) are the name's; only
the TCP connection goes to the checked address, whatever a second lookup would now say. Every socket
operation waits at most what is left of the attempt's deadline: a receiver that drips its answer a byte at a
time cannot hold the dispatcher longer than the deadline, as a per-read timeout alone would let it. Only the
status line and headers are read, never the body; no redirect is followed; the connection is not reused.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from platform_node.institutions.webhook_targets import CheckedTarget


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation waits at most until the attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream, self._deadline = stream, deadline

    def _left(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise expired("the delivery's deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked address, whichever host name the request carries."""

    def __init__(self, address: str, deadline: float) -> None:
        self._address, self._deadline, self._backend = address, deadline, httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the delivery's deadline passed")
        stream = self._backend.connect_tcp(self._address, port, timeout=left if timeout is None else min(timeout, left),
                                           local_address=local_address, socket_options=socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:  # httpcore's retries only; none are configured
        time.sleep(seconds)


def post_status(target: CheckedTarget, body: bytes, headers: Mapping[str, str], *, deadline_s: float,
                ssl_context: ssl.SSLContext | None = None) -> int:
    """POST `body` to `target` and return the answer's status; raises `httpcore` errors (timeouts included)."""
    deadline = time.monotonic() + deadline_s
    backend = _PinnedBackend(target.address.compressed, deadline)
    context = ssl_context or httpx.create_ssl_context()
    with httpcore.ConnectionPool(ssl_context=context, network_backend=backend, max_connections=1,
                                 max_keepalive_connections=0) as pool:
        timeouts = {"connect": deadline_s, "read": deadline_s, "write": deadline_s, "pool": deadline_s}
        with pool.stream("POST", target.request_url(), headers=list(headers.items()), content=body,
                         extensions={"timeout": timeouts}) as response:
            return response.status
