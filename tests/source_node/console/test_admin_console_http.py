"""The administrator's console over HTTP (no browser): what it lets through and what it refuses.

Requests are signed here with the unit's key exactly as the browser's script signs them
(`consent.governance.admin_signature`); the browser itself is exercised in `test_admin_console_browser.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.governance import sign_approval
from consent.governance.admin_signature import sign_admin_request
from source_node.governance.console import labels
from source_node.governance.console.labels import LABELS
from source_node.governance.console.site import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.source_node.console.unit_world import Unit, unit_with_console
from webconsole.i18n import LANGUAGES

CONSOLE = Path(labels.__file__).parent


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unit]:
    with unit_with_console(tmp_path_factory.mktemp("console-unit")) as opened:
        yield opened


def now() -> int:
    return int(datetime.now(UTC).timestamp())


def signed_post(http: httpx.Client, key: Ed25519PrivateKey, path: str, fields: dict[str, str], *,
                at: int | None = None) -> httpx.Response:
    body = urlencode(fields).encode()
    headers = sign_admin_request(key, "POST", path, body, at=at or now())
    return http.post(path, content=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def log_in(unit: Unit, http: httpx.Client) -> str:
    """A session; returns its CSRF token."""
    form = http.get("/console/login")
    reply = signed_post(http, unit.key, "/console/login", {"csrf": csrf_of(form.text)})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/approvals"
    return csrf_of(http.get("/console/approvals").text)


def test_pages_need_a_session_opened_by_a_signed_log_in(unit: Unit) -> None:
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        for path in ("/console/approvals", "/console/catalogue", "/console/usage", "/console/approvals/apv-" + "0" * 32):
            reply = http.get(path)
            assert reply.status_code == 303 and reply.headers["location"] == "/console/login", path
        form = http.get("/console/login")
        assert form.status_code == 200 and "Content-Security-Policy" in form.headers
        unsigned = http.post("/console/login", data={"csrf": csrf_of(form.text)})
        assert unsigned.status_code == 401 and SESSION_COOKIE not in unsigned.headers.get("set-cookie", "")
        # Each refused log-in answers with the form again and a new token (as the platform's log-in does).
        foreign = signed_post(http, Ed25519PrivateKey.generate(), "/console/login", {"csrf": csrf_of(unsigned.text)})
        assert foreign.status_code == 401
        stale = signed_post(http, unit.key, "/console/login", {"csrf": csrf_of(foreign.text)}, at=now() - 3600)
        assert stale.status_code == 401
        token = csrf_of(stale.text)
        http.cookies.delete(LOGIN_CSRF_COOKIE)
        no_cookie = signed_post(http, unit.key, "/console/login", {"csrf": token})
        assert no_cookie.status_code == 403  # the log-in form's CSRF cookie is missing
        assert http.get("/console/approvals").status_code == 303
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        log_in(unit, http)
        assert http.get("/console/approvals").status_code == 200
        assert http.get("/admin/approvals").status_code == 401  # the JSON endpoint still wants a signature


def test_every_action_needs_the_session_its_csrf_token_and_a_fresh_signature(unit: Unit) -> None:
    approval_id = unit.file("console-actions")
    path = f"/console/approvals/{approval_id}/decline"
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        csrf = log_in(unit, http)
        assert http.post(path, data={"csrf": csrf, "reason": "x"}).status_code == 401  # session + CSRF, unsigned
        assert signed_post(http, unit.key, path, {"csrf": "forged", "reason": "x"}).status_code == 403
        assert signed_post(http, Ed25519PrivateKey.generate(), path, {"csrf": csrf}).status_code == 401
        body = urlencode({"csrf": csrf, "reason": "not this year"}).encode()
        headers = {**sign_admin_request(unit.key, "POST", path, body, at=now()),
                   "Content-Type": "application/x-www-form-urlencoded"}
        done = http.post(path, content=body, headers=headers)
        assert done.status_code == 303 and done.headers["location"].endswith("?done=decline")
        assert unit.governance.store.get(approval_id).status.value == "DECLINED"
        assert http.post(path, content=body, headers=headers).status_code == 401  # replayed
        shown = http.get(done.headers["location"])
        assert "not this year" in shown.text and "/decline" not in shown.text  # final: no more actions
    with httpx.Client(base_url=unit.url, timeout=30) as stranger:  # signed, but no session
        assert signed_post(stranger, unit.key, path, {"csrf": csrf}).status_code == 401


def test_approving_records_the_signature_made_on_the_administrators_side(unit: Unit) -> None:
    approval_id = unit.file("console-approve")
    terms = unit.governance.store.get(approval_id).terms
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        csrf = log_in(unit, http)
        page = http.get(f"/console/approvals/{approval_id}")
        assert f'data-approval-id="{approval_id}"' in page.text and "/revoke" not in page.text
        foreign = sign_approval(terms, Ed25519PrivateKey.generate(), signed_at=datetime.now(UTC)).to_json()
        refused = signed_post(http, unit.key, f"/console/approvals/{approval_id}/approve", {"csrf": csrf, **foreign})
        assert refused.status_code == 400 and unit.governance.store.get(approval_id).status.value == "REQUESTED"
        signed = sign_approval(terms, unit.key, signed_at=datetime.now(UTC)).to_json()
        done = signed_post(http, unit.key, f"/console/approvals/{approval_id}/approve", {"csrf": csrf, **signed})
        assert done.status_code == 303
        assert unit.governance.store.get(approval_id).status.value == "APPROVED"
        again = signed_post(http, unit.key, f"/console/approvals/{approval_id}/decline", {"csrf": csrf})
        assert again.status_code == 409


def test_the_approval_list_is_paged_on_the_server(unit: Unit) -> None:
    for n in range(23):
        unit.file(f"paged-{n}")
    total = unit.governance.store.count()
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        log_in(unit, http)
        first = http.get("/console/approvals", params={"lang": "en"})
        assert len(re.findall(r'href="/console/approvals/apv-', first.text)) == 20
        assert f"1–20 of {total}" in first.text and "offset=20" in first.text
        second = http.get("/console/approvals", params={"offset": "20"})
        assert len(re.findall(r'href="/console/approvals/apv-', second.text)) == total - 20
        requested = http.get("/console/approvals", params={"status": "REQUESTED"})
        assert unit.governance.store.count(status="REQUESTED") > 0 and "offset=" in requested.text


def test_log_out_ends_the_session(unit: Unit) -> None:
    with httpx.Client(base_url=unit.url, timeout=30) as http:
        csrf = log_in(unit, http)
        assert http.post("/console/logout", data={"csrf": "forged"}).status_code == 403
        assert http.post("/console/logout", data={"csrf": csrf}).status_code == 303
        assert http.get("/console/catalogue").status_code == 303


def test_every_label_is_written_in_both_languages_and_every_used_key_exists() -> None:
    prefixes = "|".join(sorted({k.split(".")[0] for k in LABELS}))
    pattern = re.compile(r"""["']((?:""" + prefixes + r""")\.[A-Za-z_.]*[A-Za-z_])["']""")
    used = set()
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        used |= {k for k in pattern.findall(path.read_text(encoding="utf-8")) if not k.endswith((".html", ".js"))}
    base = (Path(__file__).resolve().parents[3] / "webconsole" / "templates" / "base.html").read_text(encoding="utf-8")
    used |= set(pattern.findall(base))
    assert len(used) > 60 and used <= set(LABELS), sorted(used - set(LABELS))
    from source_node.governance.console.views import CONDITIONS, LINE_STATUSES, STATUSES

    built = [f"status.{s}" for s in STATUSES] + [f"cond.{c}" for c in CONDITIONS] + \
        [f"check.{s}" for s in LINE_STATUSES] + [f"{p}.{a}" for p in ("apv", "done")
                                                 for a in ("approve", "decline", "suspend", "resume", "revoke")]
    assert set(built) <= set(LABELS)
    for key, texts in LABELS.items():
        assert len(texts) == len(LANGUAGES) and all(t.strip() for t in texts), key
        assert set(re.findall(r"\{(\w+)\}", texts[0])) == set(re.findall(r"\{(\w+)\}", texts[1])), key


def test_nothing_is_loaded_from_outside() -> None:
    for path in CONSOLE.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), path
