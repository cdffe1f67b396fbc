"""The benchmarks' closed-loop HTTP client against a real keep-alive server on a free port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.http_load import run_closed_loop


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, self.headers["Authorization"], body))
        answer = json.dumps({"echo": body["i"]}).encode()
        self.send_response(200 if body["i"] % 5 else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


def test_every_request_is_sent_once_and_non_200_answers_are_errors() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = run_closed_loop(url, "/v1/scores", {"Authorization": "Bearer k"}, lambda i: {"i": i},
                                 requests=50, concurrency=4, timeout_s=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert sorted(body["i"] for _, _, body in _Handler.seen) == list(range(50))
    assert {(path, auth) for path, auth, _ in _Handler.seen} == {("/v1/scores", "Bearer k")}
    assert len(result.latencies_s) == 40
    assert len(result.errors) == 10 and all(e.startswith("503 ") for e in result.errors)
    assert result.summary()["requests_per_s"] > 0
