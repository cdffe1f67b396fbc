"""Driving Debian's Chromium with Playwright for the console's end-to-end tests (no tests here).

Playwright's own browser download needs the internet, which these machines lack; Playwright from the package
registry drives an installed Chromium through its executable path instead (`.ci/run` installs Debian's
`chromium`). Tests that need it skip with the reason when it is missing. Every page a test opens can be saved
as a PNG under `build/screenshots/` (git-ignored), to be looked at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("XYD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, as .ci/run "
                    f"does) or point XYD_CHROMIUM at one")
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's `Browser`), closed on exit."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS, headless=True,
                                         timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


class Visit:
    """One browser context (one person's cookies) on a console, refusing every request that leaves it."""

    def __init__(self, browser, base_url: str, *, lang: str = "zh") -> None:
        self.base = base_url.rstrip("/")
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN" if lang == "zh"
                                           else "en-GB", accept_downloads=True)
        self.context.set_default_timeout(15_000)
        self.outside: list[str] = []
        own = urlsplit(self.base).netloc

        def guard(route) -> None:
            if urlsplit(route.request.url).netloc != own:
                self.outside.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        self.context.route("**/*", guard)
        self.page = self.context.new_page()

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def shoot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def log_in(self, api_key: str) -> None:
        self.go("/console/login")
        self.page.get_by_label(re.compile("API")).fill(api_key)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(lambda url: "/console/login" not in url)

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"the console asked for assets from elsewhere: {self.outside}"
