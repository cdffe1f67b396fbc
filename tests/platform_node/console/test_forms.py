"""Console form readers that decide something on their own: where a sign-in may send the browser next."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_node.console.forms import return_path


@pytest.mark.parametrize("target", [
    "https://evil.example/console/", "//evil.example/console/", "/\\evil.example", "/console\\..\\x",
    "javascript:alert(1)", "/api/v1/scores", "/console", "", None,
])
def test_anything_but_a_console_path_of_this_server_is_dropped(target: str | None) -> None:
    assert return_path(target, "/console/") is None


def test_a_console_path_is_kept_and_the_enterprise_console_keeps_only_its_own() -> None:
    assert return_path("/console/audit?from=2026-01-01", "/console/") == "/console/audit?from=2026-01-01"
    assert return_path("/console/audit", "/console/enterprise/") is None
    assert return_path("/console/enterprise/requests", "/console/enterprise/") == "/console/enterprise/requests"


@given(st.text(max_size=60))
def test_whatever_is_kept_stays_on_this_server_below_the_prefix(target: str) -> None:
    kept = return_path(target, "/console/")
    assert kept is None or (kept == target and kept.startswith("/console/") and "\\" not in kept)
