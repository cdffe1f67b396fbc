"""Where a webhook may point: https, a public address, an allowed port. Checked when a bank registers the URL
and again right before every delivery.

A bank chooses the URL and the platform connects to it, so a permissive check would turn the platform into
the bank's probe of the platform's own network (loopback services, cloud metadata at 169.254.169.254, private
ranges) or of odd ports. The rules:
- scheme https (http only under `allow_insecure_for_tests`), a host, no user name or password;
- the port is in the allow-list (443 and 8443 by default);
- every address the host resolves to is a public unicast address: not loopback, link-local, private, shared
  (100.64/10), multicast, unspecified, reserved or documentation space, not an IPv4-mapped, IPv4-compatible,
  6to4 or NAT64 form of one. If any address is refused the whole host is refused, so a name cannot mix one
  public address with one internal one.
Resolution happens at each delivery too, and the delivery connects to the address that was checked, not to
a second lookup: a name that later re-binds to an internal address (DNS rebinding) is refused then.

`allow_insecure_for_tests` (the server's own `[api]` config, never a request) also admits http and loopback
addresses on any port, for local receivers in tests and the loopback sandbox; every other refused range stays
refused. Refusals carry a fixed public text that never repeats the URL, and the same text for a name that does
not resolve as for one that resolves to a refused address (else the platform's resolver would tell a bank
which internal names exist).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from platform_node.institutions.errors import InstitutionError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (as text). Injected by tests; the system resolver otherwise.
Resolver = Callable[[str, int], Sequence[str]]

DEFAULT_WEBHOOK_PORTS = (443, 8443)
MAX_URL_LENGTH = 2000
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?")
# Special-purpose blocks (IANA registries, RFC 6890) refused whatever the Python version's `is_global` says
# of a given address; IPv4 forms written inside IPv6 (mapped, 6to4, NAT64, Teredo) are refused outright.
_REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
    "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))


class RefusalRule(StrEnum):
    """Which rule a webhook URL broke; each has one fixed public text."""

    MALFORMED = "MALFORMED"
    SCHEME = "SCHEME"
    CREDENTIALS = "CREDENTIALS"
    PORT = "PORT"
    ADDRESS = "ADDRESS"


class WebhookTargetRefused(InstitutionError):
    """A webhook URL breaks a rule; `str(error)` is public text (it never repeats the URL)."""

    def __init__(self, rule: RefusalRule, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class WebhookPolicy:
    """The server's rules for webhook targets (from `[api]`: `webhook_ports`,
    `allow_insecure_webhooks_for_tests`)."""

    ports: tuple[int, ...] = DEFAULT_WEBHOOK_PORTS
    allow_insecure_for_tests: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", tuple(self.ports))
        if not self.ports or any(not isinstance(p, int) or not 0 < p < 65536 for p in self.ports):
            raise ValueError("webhook ports must be a non-empty list of ports in [1, 65535]")

    def _refuse(self, rule: RefusalRule) -> WebhookTargetRefused:
        schemes = "https or http" if self.allow_insecure_for_tests else "https"
        text = {
            RefusalRule.MALFORMED: "the webhook URL is not a valid absolute URL",
            RefusalRule.SCHEME: f"the webhook URL must use {schemes}",
            RefusalRule.CREDENTIALS: "the webhook URL must not carry a user name or password",
            RefusalRule.PORT: f"the webhook port must be one of {', '.join(map(str, self.ports))}",
            RefusalRule.ADDRESS: "the webhook host must resolve, and only to public addresses",
        }[rule]
        return WebhookTargetRefused(rule, text)


PRODUCTION_POLICY = WebhookPolicy()


@dataclass(frozen=True)
class CheckedTarget:
    """A webhook URL with the address it was checked against: the delivery connects to `address`, while the
    request (its `Host` header, TLS's server name and so the certificate check) keeps naming `host`."""

    url: str
    scheme: str
    host: str
    port: int
    address: Address

    def request_url(self) -> str:
        """The URL as requested: the registered one without its fragment, with the port made explicit."""
        parts = urlsplit(self.url)
        name = f"[{self.host}]" if ":" in self.host else self.host
        return urlunsplit((self.scheme, f"{name}:{self.port}", parts.path or "/", parts.query, ""))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection (the operating system's resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [str(info[4][0]) for info in infos]


def _is_public(address: Address) -> bool:
    if address.is_multicast or address.is_reserved or address.is_unspecified or not address.is_global:
        return False
    if address.is_private or address.is_loopback or address.is_link_local:
        return False
    if isinstance(address, ipaddress.IPv6Address) and (
            address.ipv4_mapped is not None or address.sixtofour is not None or address.teredo is not None):
        return False
    return not any(address.version == net.version and address in net for net in _REFUSED_NETWORKS)


def _is_test_loopback(address: Address) -> bool:
    return address.is_loopback and not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped)


def parse_webhook_url(url: str, policy: WebhookPolicy) -> tuple[str, str, int]:
    """(scheme, host, port) of a syntactically acceptable URL; raises `WebhookTargetRefused`."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or not url.isascii() or any(
            c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise policy._refuse(RefusalRule.MALFORMED)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise policy._refuse(RefusalRule.MALFORMED) from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_insecure_for_tests else ("https",)
    if scheme not in _DEFAULT_PORTS:
        raise policy._refuse(RefusalRule.MALFORMED if not scheme else RefusalRule.SCHEME)
    if scheme not in allowed:
        raise policy._refuse(RefusalRule.SCHEME)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise policy._refuse(RefusalRule.CREDENTIALS)
    host = parts.hostname or ""
    if not host:
        raise policy._refuse(RefusalRule.MALFORMED)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise policy._refuse(RefusalRule.MALFORMED) from None
    port = _DEFAULT_PORTS[scheme] if port is None else port
    if not 0 < port < 65536:
        raise policy._refuse(RefusalRule.MALFORMED)
    return scheme, host, port


def check_webhook_target(url: str, policy: WebhookPolicy, resolver: Resolver = system_resolver) -> CheckedTarget:
    """The URL checked against every rule, with the address to connect to; raises `WebhookTargetRefused`.

    An IP literal is not given to the resolver; a name is, and every address it resolves to must pass."""
    scheme, host, port = parse_webhook_url(url, policy)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    texts = [literal.compressed] if literal is not None else list(resolver(host.rstrip("."), port))
    addresses: list[Address] = []
    for text in texts:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            raise policy._refuse(RefusalRule.ADDRESS) from None
    if not addresses:
        raise policy._refuse(RefusalRule.ADDRESS)
    for address in addresses:
        loopback_for_tests = policy.allow_insecure_for_tests and _is_test_loopback(address)
        if not (_is_public(address) or loopback_for_tests):
            raise policy._refuse(RefusalRule.ADDRESS)
        if port not in policy.ports and not loopback_for_tests:
            raise policy._refuse(RefusalRule.PORT)
    return CheckedTarget(url, scheme, host, port, addresses[0])
