"""Issue 16's HTTP attacks, replayed against a real `xyd api serve` process with its production settings: as
an outsider (over raw sockets where a client library would hide the timing), a curious bank and a compliance
key would. Each client speaks from its own loopback address (127.0.0.x), so the per-address limits of one
attack do not touch another. Every test here failed on a6a6ea6; attacks that need a clock or a DNS the test
controls are in `test_http_attacks_inprocess.py`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from consent.credit_code import generate_credit_code
from platform_node.api.cli import main
from tests.platform_node.world import enterprises, write_scorecard_model

ROOT = Path(__file__).resolve().parents[3]
KNOWN = enterprises(5)
BANK, OTHER_BANK, COMPLIANCE, ADMIN = "bank/alpha", "bank/beta", "regulator/pboc", "platform/ops"
VICTIM = "bank/gamma"  # the bank whose key id the guessing attack targets (its key is held back afterwards)
DAILY_QUOTA = 12
MIB = 1024 * 1024
HEAD_TIMEOUT_S = 1.0  # the server's limit on sending a request's headers (10 s by default)


@dataclass
class Served:
    port: int
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, source: str) -> httpx.Client:
        """An HTTP client whose connections come from `source` (a 127.0.0.x address)."""
        return httpx.Client(base_url=self.url, timeout=10.0,
                            transport=httpx.HTTPTransport(local_address=source))

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def _cli(*argv: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    port = _free_port()
    config = folder / "api.toml"
    config.write_text("\n".join([
        "[api]", 'database_url = "sqlite:///api.db"', 'secrets_file = "master.key"', f"port = {port}",
        f'scorer_model_file = "{write_scorecard_model(folder, KNOWN)}"', "run_ticker = false",
        f"request_head_timeout_s = {HEAD_TIMEOUT_S}",
        # A small window threshold so that a handful of unknown codes is unusual.
        "[api.lookup_watch]", "window_s = 86400", "min_unknown = 4", "unknown_share = 0.5", "",
    ]), encoding="utf-8")
    keys = {}
    for ident, role, quota in ((BANK, "bank", DAILY_QUOTA), (OTHER_BANK, "bank", 1000), (VICTIM, "bank", 1000),
                               (COMPLIANCE, "compliance", 1000), (ADMIN, "admin", 1000)):
        kind, slug = ident.split("/")
        keys[ident] = _cli("institution", "add", "--config", str(config), "--kind", kind, "--slug", slug,
                           "--name", ident, "--role", role, "--daily-quota", str(quota))["api_key"]
    _cli("institution", "agreement", "--config", str(config), BANK, "--scope", "BULK_SCORING",
         "--reference", "DSA-1", "--not-before", "2020-01-01T00:00:00Z", "--not-after", "2099-01-01T00:00:00Z")
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "platform_node.api.cli", "api", "serve", "--config",
                                str(config)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "the API server did not come up"
                time.sleep(0.1)
        yield Served(port, keys)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _exchange(port: int, head: str, body_prefix: bytes = b"", *, source: str,
              timeout_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send a request head and at most the start of its body, then read the answer without sending the rest:
    an answer at all proves the server did not wait to read the whole body first."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s, source_address=(source, 0)) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body_prefix)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection without answering"
            data += chunk
        raw_head, _, body = data.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def _head(method: str, path: str, *, port: int, headers: dict[str, str]) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return "\n".join(lines) + "\n"


def test_an_outsiders_body_is_never_read_before_the_401(served: Served) -> None:
    """Attack: 100 MB without a key was read in full before the 401; a malformed 10 MB body without a key got
    422. Now the key is checked before the body is touched: 401 with the body unread, whatever it is."""
    json_head = {"Content-Type": "application/json"}
    declared = _head("POST", "/v1/scores", port=served.port, headers={**json_head, "Content-Length": str(100 * MIB)})
    status, headers, body = _exchange(served.port, declared, b"x" * 65536, source="127.0.0.11")
    assert (status, json.loads(body)["code"]) == (401, "UNAUTHENTICATED")
    assert headers["connection"] == "close"  # and the rest of the body is not read off the socket

    streamed = _head("POST", "/v1/scores/batch", port=served.port,
                     headers={**json_head, "Transfer-Encoding": "chunked"})
    status, _, body = _exchange(served.port, streamed, b"10000\r\n" + b"[" * 65536 + b"\r\n", source="127.0.0.11")
    assert (status, json.loads(body)["code"]) == (401, "UNAUTHENTICATED")

    malformed = b'{"credit_code": ' + b"9" * (10 * MIB)
    with served.client("127.0.0.12") as http:
        answer = http.post("/v1/scores", content=malformed, headers=json_head)
        small = http.post("/v1/scores", content=b'{"credit_code": ', headers=json_head)
        wrong = http.post("/v1/scores", content=b"\x00\xff not json", headers={
            **json_head, "Authorization": "Bearer xyd.0123456789abcdef." + "A" * 43})
    assert [(r.status_code, r.json()["code"]) for r in (answer, small, wrong)] == [(401, "UNAUTHENTICATED")] * 3


def test_request_heads_are_bounded_in_size_and_time(served: Served) -> None:
    """Found re-running the category: uvicorn read a request's headers without limit (a 50 MB header was read
    in full before the 401) and waited forever for a head sent a byte at a time (slowloris). Now a head past
    32 KiB is 431 and a head not complete in time (1 s in this config) is 408, and the connection closes."""
    many = _head("GET", "/v1/alerts", port=served.port, headers={f"X-Filler-{i}": "a" * 40 for i in range(2000)})
    status, headers, body = _exchange(served.port, many, source="127.0.0.14")
    assert (status, json.loads(body)["code"], headers["connection"]) == (431, "REQUEST_HEAD_TOO_LARGE", "close")

    with socket.create_connection(("127.0.0.1", served.port), timeout=10, source_address=("127.0.0.14", 0)) as sock:
        try:  # one 20 MB header: the server must close long before it could have read it all
            sock.sendall(b"GET /v1/alerts HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * MIB))
            answer = sock.recv(200)
        except (BrokenPipeError, ConnectionResetError):
            answer = b"HTTP/1.1 431 (connection closed while sending)"
    assert answer.startswith(b"HTTP/1.1 431"), answer

    for partial in (b"GET /v1/alerts HTTP/1.1\r\nHost: x\r\n", b""):  # a slow head, and nothing at all
        with socket.create_connection(("127.0.0.1", served.port), timeout=10,
                                      source_address=("127.0.0.14", 0)) as sock:
            started = time.monotonic()
            sock.sendall(partial)
            answer = sock.recv(200)
            assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5 * HEAD_TIMEOUT_S, answer
            assert sock.recv(200) == b""  # closed


def test_request_bodies_are_bounded_per_route_before_they_are_read(served: Served) -> None:
    """Attack: request size was unbounded. Now a declared length above the route's limit (64 KiB for JSON
    routes, 1 MiB for the batch upload) is 413 before a byte of body is read, and a body streamed without a
    length is cut off at the limit."""
    key = {"Authorization": f"Bearer {served.keys[BANK]}", "Content-Type": "application/json"}
    huge = _head("POST", "/v1/scores", port=served.port, headers={**key, "Content-Length": str(100 * MIB)})
    status, headers, body = _exchange(served.port, huge, b"{" * 1024, source="127.0.0.13")
    assert (status, json.loads(body)["code"]) == (413, "PAYLOAD_TOO_LARGE") and "65536" in json.loads(body)["message"]

    over_batch = _head("POST", "/v1/scores/batch", port=served.port, headers={**key, "Content-Length": str(2 * MIB)})
    assert _exchange(served.port, over_batch, source="127.0.0.13")[0] == 413

    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"  # 8 KiB chunks, no declared length
    streamed = _head("POST", "/v1/scores", port=served.port, headers={**key, "Transfer-Encoding": "chunked"})
    status, _, body = _exchange(served.port, streamed, chunk * 10, source="127.0.0.13")
    assert (status, json.loads(body)["code"]) == (413, "PAYLOAD_TOO_LARGE")

    # The batch route takes a body past the JSON limit (here 9,000 codes, about 200 KB): it is parsed and
    # refused for what it says, not for its size.
    with served.client("127.0.0.13") as http:
        batch = http.post("/v1/scores/batch", headers=served.as_(BANK), json={
            "credit_codes": [KNOWN[0]] * 9000, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"})
    assert (batch.status_code, batch.json()["code"]) == (422, "DUPLICATE_CREDIT_CODES")


def test_failed_authentication_is_rate_limited_per_address_and_per_key_id(served: Served) -> None:
    """Attack: 300 wrong-secret guesses at 812 per second were never limited. Now each address and each key
    id has a small allowance of failures, after which attempts get 429 with Retry-After before any credential
    is checked; the owner of the key is not locked out."""
    victim_key_id = served.keys[VICTIM].split(".")[1]
    guess = f"Bearer xyd.{victim_key_id}." + "B" * 43
    with served.client("127.0.0.22") as http:
        assert http.get("/v1/alerts", headers=served.as_(VICTIM)).status_code == 200  # its usual address
    with served.client("127.0.0.21") as http:
        answers = [http.get("/v1/alerts", headers={"Authorization": guess}) for _ in range(300)]
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {401, 429} and statuses.count(401) <= 20
    first_refusal = statuses.index(429)
    assert set(statuses[first_refusal:]) == {429}  # once held back, every further guess is
    limited = answers[-1]
    assert limited.json()["code"] == "AUTH_RATE_LIMITED" and int(limited.headers["Retry-After"]) >= 1
    with served.client("127.0.0.24") as http:
        elsewhere = http.get("/v1/alerts", headers={"Authorization": guess})
        other_key = http.get("/v1/alerts", headers={"Authorization": "Bearer xyd.fedcba9876543210." + "C" * 43})
    with served.client("127.0.0.22") as http:
        owner = http.get("/v1/alerts", headers=served.as_(VICTIM))
    assert elsewhere.status_code == 429  # the key id is held back from any address
    assert other_key.status_code == 401  # this address has its own allowance left
    assert owner.status_code == 200  # the right key still works from where it worked before

    with served.client("127.0.0.23") as http:  # no key-shaped token at all: the address's allowance
        keyless = [http.get("/v1/uses", headers={"Authorization": f"Bearer junk-{i}"}).status_code
                   for i in range(40)]
    assert keyless[:20] == [401] * 20 and set(keyless[20:]) == {429}


PROBES = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata, http
    "https://169.254.169.254/latest/meta-data/",
    "https://127.0.0.1/",
    "https://127.0.0.1:8443/",
    "https://127.1/",
    "https://2130706433/",  # 127.0.0.1 as one decimal number
    "https://0x7f000001/",
    "https://localhost/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[64:ff9b::7f00:1]/",  # NAT64 form of 127.0.0.1
    "https://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
    "https://[fe80::1]/",
    "https://10.0.0.5/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://255.255.255.255/",
    "https://93.184.216.34:22/",  # a public address, an odd port
    "https://93.184.216.34:6379/",
    "http://93.184.216.34/",  # plain http
    "https://user:secret@93.184.216.34/",
    "ftp://93.184.216.34/",
    "https://no-such-host.invalid/",
]


def test_webhooks_cannot_point_into_the_platforms_network(served: Served) -> None:
    """Attack: `PUT /v1/webhook` accepted link-local, loopback, private and IPv6 loopback addresses and odd
    ports (a port scanner with the delivery errors). Now such URLs are 422 INVALID_WEBHOOK (without repeating
    the URL); only bank keys may register a webhook."""
    with served.client("127.0.0.31") as http:
        answers = {url: http.put("/v1/webhook", headers=served.as_(BANK), json={"url": url}) for url in PROBES}
        public = http.put("/v1/webhook", headers=served.as_(BANK), json={"url": "https://93.184.216.34/hook"})
        by_compliance = http.put("/v1/webhook", headers=served.as_(COMPLIANCE),
                                 json={"url": "https://93.184.216.34/hook"})
        by_admin = http.put("/v1/webhook", headers=served.as_(ADMIN), json={"url": "https://93.184.216.34/hook"})
        deliveries = http.get("/v1/webhook/deliveries", headers=served.as_(COMPLIANCE))
    accepted = [url for url, answer in answers.items() if answer.status_code != 422]
    assert accepted == []
    assert {a.json()["code"] for a in answers.values()} == {"INVALID_WEBHOOK"}
    for url, answer in answers.items():
        host = httpx.URL(url).host
        assert host not in answer.text, url
    assert public.status_code == 200 and public.json()["secret"]
    assert [(r.status_code, r.json()["code"]) for r in (by_compliance, by_admin, deliveries)] == [
        (403, "FORBIDDEN_ROLE")] * 3


def _score(http: httpx.Client, served: Served, code: str, who: str = BANK) -> httpx.Response:
    return http.post("/v1/scores", headers=served.as_(who),
                     json={"credit_code": code, "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-7"})


def test_unknown_enterprise_lookups_are_uses_counted_against_quota_and_watched(served: Served) -> None:
    """Attack: a bank learnt whether the federation knows an enterprise (404 vs 200) and the failed look-up
    left no use, no audit leaf and no quota. Now every look-up is a use with a leaf and counts against the
    quota, and a run of unknown codes raises an alert that compliance lists."""
    strangers = [generate_credit_code(random.Random(7000 + i)) for i in range(20)]
    strangers = [c for c in strangers if c not in KNOWN]
    with served.client("127.0.0.41") as http:
        known = _score(http, served, KNOWN[1])
        unknown = [_score(http, served, code) for code in strangers[:5]]
        assert all(r.json().get("use_id") for r in unknown)  # each refused look-up is a use on record
        uses = http.get("/v1/uses", params={"limit": 100}, headers=served.as_(BANK)).json()["items"]
        leaves = http.get("/v1/compliance/audit/leaves", params={"kind": "request_refused", "institution": BANK},
                          headers=served.as_(COMPLIANCE)).json()["items"]
        alerts = http.get("/v1/compliance/lookup-alerts", headers=served.as_(COMPLIANCE)).json()["items"]
        rest = [_score(http, served, code) for code in strangers[5:12]]
    assert known.status_code == 200
    assert {(r.status_code, r.json()["code"]) for r in unknown} == {(404, "UNKNOWN_ENTERPRISE")}
    refused_ids = {r.json()["use_id"] for r in unknown}
    mine = {u["use_id"]: u for u in uses}
    assert refused_ids <= set(mine)
    assert {(mine[i]["kind"], mine[i]["failure_code"], mine[i]["feedback_due_at"]) for i in refused_ids} == {
        ("UNANSWERED", "UNKNOWN_ENTERPRISE", None)}
    assert {leaf["event"]["use_id"] for leaf in leaves} >= refused_ids
    assert all(leaf["event"]["reason_code"] == "UNKNOWN_ENTERPRISE" for leaf in leaves)
    assert all(k not in json.dumps(leaves) for k in strangers)  # the leaf names the enterprise by keyed ref only
    [alert] = [a for a in alerts if a["institution_id"] == BANK]
    assert (alert["kind"], alert["unknown"], alert["lookups"]) == ("UNKNOWN_LOOKUPS", 4, 5)
    # 1 + 5 look-ups so far; the quota of 12 allows 6 more, whatever their answer, then 429 before scoring.
    statuses = [r.status_code for r in rest]
    assert statuses == [404] * 6 + [429] and rest[-1].json()["code"] == "QUOTA_EXHAUSTED"
    with served.client("127.0.0.41") as http:
        feedback = http.post(f"/v1/uses/{unknown[0].json()['use_id']}/feedback", headers=served.as_(BANK),
                             json={"type": "decision", "decision": "DECLINED"})
        others = http.get("/v1/uses", headers=served.as_(OTHER_BANK)).json()["items"]
    assert (feedback.status_code, feedback.json()["code"]) == (409, "FEEDBACK_CONFLICT")  # nothing to decide on
    assert others == []


ECHO = "EchoZq"  # characters an answer must never repeat


def test_validation_errors_echo_nothing_submitted(served: Served) -> None:
    """Attack: validation errors repeated submitted characters (field names, tags, code characters). Now the
    answer names declared fields and rules only."""
    base = {"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1"}
    code = KNOWN[0]
    probes = [
        ("POST", "/v1/scores", {**base, "credit_code": code, f"{ECHO}_field": 1}),
        ("POST", "/v1/scores", {**base, "credit_code": code[:17] + "#"}),
        ("POST", "/v1/scores", {**base, "credit_code": code[:17] + "z"}),
        ("POST", "/v1/scores", {**base, "credit_code": code, "purpose": f"{ECHO}_PURPOSE"}),
        ("POST", "/v1/scores", {**base, "credit_code": code, "loan_application_ref": f"{ECHO} ref"}),
        ("POST", "/v1/scores", {**base, "credit_code": f"{ECHO}{ECHO}{ECHO}"}),
        ("POST", "/v1/scores/batch", {**base, "credit_codes": [code, code[:17] + "#"]}),
        ("POST", "/v1/uses/use-x/feedback", {"type": f"{ECHO}_tag", "decision": "GRANTED"}),
        ("POST", "/v1/uses/use-x/feedback", {"type": "decision", "decision": ECHO}),
        ("GET", f"/v1/uses?since={ECHO}&limit={ECHO}", None),
        ("GET", f"/v1/alerts?since={ECHO}", None),
        ("PUT", "/v1/webhook", {"url": f"https://{ECHO.lower()}.invalid/", f"{ECHO}": 1}),
    ]
    with served.client("127.0.0.51") as http:
        for method, path, body in probes:
            answer = http.request(method, path, headers=served.as_(OTHER_BANK), json=body)
            assert answer.status_code == 422, (path, body, answer.text)
            assert ECHO not in answer.text and ECHO.lower() not in answer.text, answer.text
            assert "'#'" not in answer.text and "'z'" not in answer.text, answer.text
