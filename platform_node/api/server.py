"""Run the app with uvicorn in a background thread (tests, the demo) or in the foreground (`xyd api serve`)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from platform_node.api.http_protocol import HEAD_TIMEOUT_S, MAX_HEAD_BYTES, BoundedHttpToolsProtocol


class ApiServer:
    """A uvicorn server on `host:port` (port 0: any free port) in a daemon thread; use as a context manager."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 max_head_bytes: int = MAX_HEAD_BYTES, head_timeout_s: float = HEAD_TIMEOUT_S) -> None:
        # Access logs are off: request paths may hold credit codes; handlers log ids instead. uvicorn does not
        # rewrite the client address from forwarded-for headers: the request gate reads them itself, only from
        # the proxies `[api] trusted_proxies` names. The lifespan runs so that the app closes its asyncio gRPC
        # channels on this loop when it stops. The protocol bounds each request's head (size and time).
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                                proxy_headers=False,
                                http=BoundedHttpToolsProtocol.bounded(max_head_bytes=max_head_bytes,
                                                                      head_timeout_s=head_timeout_s))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)
        self._host = host
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self.url

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
