"""The console's gate, sessions, CSRF protection and headers over real HTTP (the app on a real server).

What a browser does not show: a POST without a session is refused before its body is read, log-in failures
count against the API's failed-authentication limits, a session ends when its key is rotated or its
institution suspended or its time is up, every form needs the session's CSRF token, pages forbid outside
assets and framing, and the log-in's `next` never leaves the console.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.console.sessions import DEFAULT_SESSION_TTL
from platform_node.institutions.failed_auth import FailedAuthLimits
from tests.platform_node.world import ADMIN, BANK_A, BANK_B, COMPLIANCE, Platform, build_platform


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[Platform, str]]:
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'platform.db'}", allow_insecure_webhooks_for_tests=True,
                           failed_auth=FailedAuthLimits(address_burst=3, address_per_minute=1.0, key_burst=3,
                                                        key_per_minute=1.0))
    platform = build_platform(tmp_path, settings=settings)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield platform, url
    finally:
        server.stop()
        platform.services.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, str]]:
    """One platform for the tests that change nothing others depend on."""
    with _serving(tmp_path_factory.mktemp("console-http")) as served:
        yield served


@pytest.fixture
def own(tmp_path: Path) -> Iterator[tuple[Platform, str]]:
    """A platform of its own, for a test that uses up the address's log-ins or ends institutions' keys."""
    with _serving(tmp_path) as served:
        yield served


def _token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def log_in(http: httpx.Client, key: str, **extra: str) -> httpx.Response:
    form = http.get("/console/login")
    return http.post("/console/login", data={"csrf": _token(form.text), "api_key": key, **extra})


def test_pages_need_a_session_and_a_post_without_one_is_refused_unread(live) -> None:
    platform, url = live
    with httpx.Client(base_url=url) as http:
        reply = http.get("/console/bank/uses?state=due")
        assert reply.status_code == 303
        assert reply.headers["location"] == "/console/login?next=%2Fconsole%2Fbank%2Fuses%3Fstate%3Ddue"
        assert http.get("/console/no/such/page").status_code == 303  # unknown paths look the same
        assert http.get("/console/static/console.css").status_code == 200
    # A POST without a session: 401 and the connection closed before the (never finished) body is read.
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"POST /console/bank/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                    b"\r\nContent-Length: 1000000\r\n\r\ncredit_code=")
        head = raw.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 401") and "connection: close" in head.lower()


def test_log_in_failures_count_against_the_failed_authentication_limits(own) -> None:
    platform, url = own
    with httpx.Client(base_url=url) as http:
        answers = [log_in(http, "xyd.0123456789abcdef." + "A" * 43).status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        refused = http.post("/console/login", data={"csrf": "x", "api_key": platform.keys[BANK_A]})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1  # before the body is read
        # The API's own routes see the same address held back.
        assert http.get("/v1/uses", headers={"Authorization": "Bearer xyd.0123456789abcdef." + "B" * 43}
                        ).status_code == 429


def test_session_cookie_flags_headers_and_no_outside_asset(live) -> None:
    platform, url = live
    with httpx.Client(base_url=url) as http:
        reply = log_in(http, platform.keys[BANK_A])
        assert reply.status_code == 303 and reply.headers["location"] == "/console/bank/score"
        cookie = next(v for k, v in reply.headers.multi_items() if k == "set-cookie" and v.startswith("xyd_console="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert platform.keys[BANK_A] not in cookie
        page = http.get("/console/bank/score")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert ref.startswith("/") or ref.startswith("#") or ref.startswith("?"), ref


def test_every_form_needs_the_sessions_csrf_token(live) -> None:
    platform, url = live
    form = {"credit_code": platform.codes[0], "purpose": "PRE_LOAN_REVIEW", "loan_ref": "LA-1"}
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_A])
        token = _token(http.get("/console/bank/score").text)
        before = len(platform.services.uses.list(institution_id=BANK_A, limit=1000))
        assert http.post("/console/bank/score", data=form).status_code == 403
        assert http.post("/console/bank/score", data={**form, "csrf": token[:-2] + "xx"}).status_code == 403
        assert len(platform.services.uses.list(institution_id=BANK_A, limit=1000)) == before  # nothing scored
        assert http.post("/console/bank/score", data={**form, "csrf": token}).status_code == 200
    with httpx.Client(base_url=url) as other:  # another bank's token does not work in this bank's session
        log_in(other, platform.keys[BANK_B])
        assert other.post("/console/bank/score", data={**form, "csrf": token}).status_code == 403
    with httpx.Client(base_url=url) as http:  # the log-in form has its own token
        assert http.post("/console/login", data={"api_key": platform.keys[BANK_A]}).status_code == 403


def test_a_session_ends_with_key_rotation_suspension_and_time(own) -> None:
    platform, url = own
    services = platform.services
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_A])
        assert http.get("/console/bank/uses").status_code == 200
        services.institutions.rotate_key(BANK_A, now=platform.clock())
        assert http.get("/console/bank/uses").status_code == 303
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_B])
        services.institutions.suspend(BANK_B)
        assert http.get("/console/bank/uses").status_code == 303
        services.institutions.reinstate(BANK_B)
        assert http.get("/console/bank/uses").status_code == 200  # the session itself was kept
        platform.clock.advance(DEFAULT_SESSION_TTL.total_seconds() + 1)
        assert http.get("/console/bank/uses").status_code == 303
    with httpx.Client(base_url=url) as http:
        platform.clock.advance(60)
        log_in(http, platform.keys[COMPLIANCE])
        token = _token(http.get("/console/compliance/uses").text)
        assert http.post("/console/logout", data={"csrf": token}).status_code == 303
        assert http.get("/console/compliance/uses").status_code == 303


def test_roles_are_the_apis(live) -> None:
    platform, url = live
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_A])
        for path in ("/console/compliance/uses", "/console/operator/nodes", "/console/compliance/uses.csv"):
            assert http.get(path).status_code == 403, path
        assert http.get("/console/statistics?institution_id=bank/beta").status_code == 403
        assert http.get("/console/statistics?institution_id=bank/alpha").status_code == 200
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[ADMIN])
        assert http.get("/console/bank/uses").status_code == 403
        assert http.get("/console/statistics?institution_id=bank/beta").status_code == 200


def test_log_in_next_stays_on_the_console(live) -> None:
    platform, url = live
    for target, expected in (("/console/bank/uses?state=due", "/console/bank/uses?state=due"),
                             ("https://evil.example/", "/console/bank/score"),
                             ("//evil.example/console/", "/console/bank/score"),
                             ("/v1/uses", "/console/bank/score")):
        with httpx.Client(base_url=url) as http:
            reply = log_in(http, platform.keys[BANK_A], next=target)
            assert reply.headers["location"] == expected, target


def test_another_banks_batch_run_and_use_are_not_found(live) -> None:
    platform, url = live
    codes = platform.codes[:3]
    upload = ("credit_code\n" + "\n".join(codes) + "\n").encode()
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_A])
        token = _token(http.get("/console/bank/batch").text)
        started = http.post("/console/bank/batch", data={"csrf": token, "purpose": "PRE_LOAN_REVIEW",
                                                          "loan_ref": "LA-B"},
                            files={"file": ("codes.csv", upload, "text/csv")})
        assert started.status_code == 303
        run = started.headers["location"]
        deadline = time.monotonic() + 30  # the run is on the console's worker thread
        while http.get(run + "/progress").json()["state"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get(run + "/progress").json() == {"state": "DONE", "done": 3, "total": 3, "scored": 3,
                                                      "failed": 0, "error": None}
        rows = http.get(run + "/results.csv").text.strip().splitlines()
        assert len(rows) == 4 and rows[0].startswith("credit_code,status,use_id")
        use_id = rows[1].split(",")[2]
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_B])
        for path in (run, run + "/progress", run + "/results.csv", f"/console/bank/uses/{use_id}"):
            reply = http.get(path)
            assert reply.status_code == 404 and codes[0] not in reply.text, path


def test_a_bad_upload_is_refused_with_its_reason_and_nothing_scored(live) -> None:
    platform, url = live
    with httpx.Client(base_url=url) as http:
        log_in(http, platform.keys[BANK_A])
        token = _token(http.get("/console/bank/batch").text)
        bad = "credit_code\n" + platform.codes[0] + "\n91330105MA00000000\n"
        before = len(platform.services.uses.list(institution_id=BANK_A, limit=1000))
        reply = http.post("/console/bank/batch", data={"csrf": token, "loan_ref": "LA-X"},
                          files={"file": ("c.csv", bad.encode(), "text/csv")})
        assert reply.status_code == 422 and "第 3 行" in reply.text and "91330105MA00000000" not in reply.text
        assert len(platform.services.uses.list(institution_id=BANK_A, limit=1000)) == before
