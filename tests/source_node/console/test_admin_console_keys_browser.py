"""The administrator's key in a real headless Chromium, against one unit's admin endpoint in this process: an
encrypted key file is opened with its passphrase in the browser (PBES2 with WebCrypto), another unit's key is
refused before anything is sent, and a browser that lost the key (its IndexedDB cleared) asks for the file again
before it signs. The forms are used from the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from tests.browser_support import Visit, chromium
from tests.source_node.console.unit_world import Unit, unit_with_console

pytestmark = pytest.mark.browser
PASSPHRASE = "correct horse 电池 staple"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unit]:
    with unit_with_console(tmp_path_factory.mktemp("key-unit"), passphrase=PASSPHRASE.encode()) as opened:
        yield opened


@pytest.fixture
def visit(browser, unit: Unit) -> Iterator[Visit]:
    opened = Visit(browser, unit.url, lang="en")
    yield opened
    opened.close()


def test_a_foreign_key_and_a_wrong_passphrase_are_refused_in_the_browser(visit: Visit, unit: Unit, tmp_path) -> None:
    page = visit.page
    foreign = tmp_path / "other-unit.key"
    foreign.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    visit.go("/console/login?lang=en")
    page.get_by_label("Approval private key file").set_input_files(str(foreign))
    page.get_by_role("button", name="Sign and log in").click()
    expect(page.get_by_role("alert").filter(has_text="not this unit's approval key")).to_be_visible()
    page.get_by_label("Approval private key file").set_input_files(str(unit.key_path))
    page.get_by_label("Passphrase").fill("wrong")
    page.get_by_role("button", name="Sign and log in").click()
    expect(page.get_by_role("alert").filter(has_text="passphrase is missing or wrong")).to_be_visible()
    visit.shoot("source-admin-11-login-refused-en")
    assert "/console/login" in page.url
    assert visit.go("/console/approvals").url.endswith("/console/login")


def test_an_encrypted_key_opens_with_its_passphrase_and_a_lost_key_is_asked_for_again(visit: Visit, unit: Unit) -> None:
    approval_id = unit.file("keyboard-and-keys")
    page = visit.page
    visit.go("/console/login?lang=en")
    page.get_by_label("Approval private key file").set_input_files(str(unit.key_path))
    page.get_by_label("Passphrase").fill(PASSPHRASE)
    page.get_by_label("Passphrase").press("Enter")  # the keyboard submits
    page.wait_for_url(re.compile("/console/approvals$"))

    visit.go(f"/console/approvals/{approval_id}")
    page.get_by_role("button", name="Sign with the approval key and approve").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("done=approve"))
    assert unit.governance.store.get(approval_id).status.value == "APPROVED"

    page.evaluate("""() => new Promise((ok) => { const r = indexedDB.deleteDatabase("xyd-source-admin");
                                                 r.onsuccess = r.onerror = () => ok(true); })""")
    page.reload()
    expect(page.locator("#key-box")).to_be_visible()  # no key in this browser any more: it says so at once
    page.get_by_label(re.compile("Reason.*Suspend")).fill("audit")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("alert").filter(has_text="No approval key in this browser")).to_be_visible()
    assert unit.governance.store.get(approval_id).status.value == "APPROVED"  # nothing was sent unsigned
    visit.shoot("source-admin-12-key-needed-en")
    page.locator("#key-box").get_by_label("Passphrase").fill(PASSPHRASE)
    page.get_by_label("Load the approval key file").set_input_files(str(unit.key_path))
    expect(page.get_by_role("status").filter(has_text="loaded")).to_be_visible()
    page.get_by_role("button", name="Suspend").click()
    page.wait_for_url(re.compile("done=suspend"))
    assert unit.governance.store.get(approval_id).status.value == "SUSPENDED"
    visit.shoot("source-admin-13-approval-suspended-en")
