"""Rendering the administrator's pages: this console's templates over the shared base (`webconsole`), its labels,
its navigation, and the unit's approval key id (public) for the browser to check the key it loads against."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment

from source_node.governance.console.labels import LABELS
from webconsole.i18n import translator
from webconsole.render import environment as shared_environment
from webconsole.render import shared_static

OWN_STATIC = {"console.js": "text/javascript; charset=utf-8"}
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", **OWN_STATIC}


@dataclass(frozen=True)
class NavEntry:
    href: str
    label: str  # a key of LABELS
    extension_point: bool = False


NAVIGATION = (NavEntry("/console/approvals", "nav.approvals"), NavEntry("/console/catalogue", "nav.catalogue"),
              NavEntry("/console/usage", "nav.usage"))
HOME = NAVIGATION[0].href


@cache
def environment() -> Environment:
    return shared_environment("source_node.governance.console")


def render(template: str, *, lang: str, path: str, unit: str, key_id: str, csrf: str = "", signed_in: bool = False,
           **context: Any) -> bytes:
    """The page as UTF-8 bytes; `signed_in` shows who is logged in, the log-out form and the navigation."""
    t = translator(lang, LABELS)
    who = t("nav.signed_in_as", unit=unit, key_id=key_id) if signed_in else ""
    html = environment().get_template(template).render(
        t=t, has=LABELS.__contains__, lang=lang, path=path, who=who, csrf=csrf, nav=NAVIGATION if signed_in else (),
        unit=unit, key_id=key_id, **context)
    return html.encode("utf-8")


def static_asset(name: str) -> tuple[bytes, str] | None:
    """A static file's bytes and media type, or None."""
    if name in OWN_STATIC:
        data = resources.files("source_node.governance.console").joinpath("static", name).read_bytes()
        return data, OWN_STATIC[name]
    shared = shared_static(name)
    return None if shared is None else (shared, STATIC_TYPES[name])
