"""Rendering console pages: Jinja2 templates shipped with a console's package over the shared base template,
autoescaped, with the headers every console response carries.

The headers forbid framing, sniffing, caching and any script or style not served by the console itself
(Content-Security-Policy), so no page can load anything from outside. Times are shown in China time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CHINA_TIME = timezone(timedelta(hours=8), "CST")
SHARED_STATIC = {"console.css": "text/css; charset=utf-8"}


def when(moment: datetime | float | None) -> str:
    """A time as people here read it: China time, to the minute (the APIs speak UTC; pages say CST)."""
    if moment is None:
        return ""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def environment(package: str) -> Environment:
    """The templates of `package` (its `templates/` folder) over the shared ones (`base.html`), with the
    filters every console uses."""
    loader = ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("webconsole", "templates")])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    env.filters["when"] = when
    env.filters["pct"] = lambda value: "" if value is None else f"{float(value) * 100:.1f}%"
    env.filters["rate"] = lambda value: "" if value is None else f"{float(value) * 100:.2f}%"
    env.filters["cny"] = lambda value: "" if value is None else f"{float(value):,.2f}"
    env.filters["pairs"] = lambda values: [(v, v) for v in values]
    env.filters["labelled"] = lambda values, t, prefix: [(v, t(prefix + v)) for v in values]
    env.filters["num"] = lambda value: "" if value is None else f"{value:,}"
    return env


def shared_static(name: str) -> bytes | None:
    """A shared static asset's bytes (the style sheet), or None for a name that is not one."""
    if name not in SHARED_STATIC:
        return None
    return resources.files("webconsole").joinpath("static", name).read_bytes()
