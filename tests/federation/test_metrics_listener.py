"""A node's metrics listener (`/metrics`, `/healthz`, `/readyz`) and request ids, on a real loopback socket."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from federation.config import ConfigError
from federation.metrics import MetricsListener, Readiness, parse_listen
from federation.request_ids import accept_request_id, join_request_ids


def test_liveness_readiness_and_metrics_answer_and_nothing_sent_is_echoed() -> None:
    registry = CollectorRegistry()
    Counter("xyd_test_things_total", "things", registry=registry).inc(3)
    readiness = Readiness()
    registered = readiness.flag("registered")
    readiness.add("broken", lambda: 1 / 0)  # a check that raises is simply not ready
    listener = MetricsListener("127.0.0.1", 0, readiness, registry=registry)
    url = "http://" + listener.start()
    try:
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        not_ready = httpx.get(url + "/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"] == {"registered": False, "broken": False}
        readiness.add("broken", lambda: True)
        registered.set()
        assert httpx.get(url + "/readyz").status_code == 200
        assert "xyd_test_things_total 3.0" in httpx.get(url + "/metrics").text
        for answer in (httpx.get(url + "/nope-<script>"), httpx.post(url + "/metrics-<script>", content=b"x")):
            assert answer.status_code in (404, 501) and "<script>" not in answer.text
    finally:
        listener.stop()


def test_the_listen_setting_is_checked() -> None:
    assert parse_listen({}) is None
    assert parse_listen({"listen": "127.0.0.1:0"}) == ("127.0.0.1", 0)
    assert parse_listen({"listen": "[::1]:9400"}) == ("::1", 9400)
    for bad in ({"listen": "9400"}, {"listen": "host:http"}, {"listen": ":1"}, {"port": 1}):
        with pytest.raises(ConfigError):
            parse_listen(bad)


def test_request_ids_are_accepted_only_when_well_formed() -> None:
    assert accept_request_id("abc-123_X.y") == "abc-123_X.y"
    for hostile in (None, "", "a" * 65, "id with spaces", "é", "a,b", "x\r\nInjected: 1"):
        fresh = accept_request_id(hostile)
        assert fresh != hostile and len(fresh) == 32 and fresh.isalnum()
    assert join_request_ids(["a", None, "b", "a"]) == "a,b"
    assert join_request_ids([None]) is None
    assert join_request_ids(str(i) for i in range(100)).count(",") == 63
