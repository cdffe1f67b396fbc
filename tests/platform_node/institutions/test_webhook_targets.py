"""Webhook target rules, pure (the resolver is a parameter): which URLs and addresses pass, in every form an
internal address can be written, and what the refusal says (never the URL)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_node.institutions.webhook_targets import (
    RefusalRule,
    WebhookPolicy,
    WebhookTargetRefused,
    check_webhook_target,
)

PRODUCTION = WebhookPolicy()
TESTS = WebhookPolicy(allow_insecure_for_tests=True)
PUBLIC = "93.184.216.34"
REFUSED_V4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
    "240.0.0.0/4")]


def _resolves_to(*addresses: str):
    return lambda host, port: list(addresses)


def _refused(url: str, policy: WebhookPolicy = PRODUCTION, resolver=None) -> RefusalRule:
    with pytest.raises(WebhookTargetRefused) as caught:
        check_webhook_target(url, policy, resolver or _resolves_to(PUBLIC))
    return caught.value.rule


def _v4_in_refused_range() -> st.SearchStrategy[ipaddress.IPv4Address]:
    return st.sampled_from(REFUSED_V4).flatmap(
        lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net[i]))


@given(_v4_in_refused_range())
def test_every_form_of_an_internal_ipv4_address_is_refused(address: ipaddress.IPv4Address) -> None:
    forms = [str(address), f"[::ffff:{address}]", f"[64:ff9b::{address}]",
             f"[2002:{int(address) >> 16:x}:{int(address) & 0xFFFF:x}::1]"]
    for form in forms:
        assert _refused(f"https://{form}/hook") is RefusalRule.ADDRESS, form
        if address.is_loopback and form == str(address):  # the test switch admits plain loopback only
            assert check_webhook_target(f"https://{form}/hook", TESTS).address == address
        else:
            assert _refused(f"https://{form}/hook", TESTS) is RefusalRule.ADDRESS, form
    # A name is judged by every address it resolves to: one internal address spoils it.
    assert _refused("https://hooks.bank.example/", resolver=_resolves_to(PUBLIC, str(address))) is RefusalRule.ADDRESS


@pytest.mark.parametrize("address", ["::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
                                     "::127.0.0.1", "2001::1"])
def test_internal_ipv6_addresses_are_refused(address: str) -> None:
    assert _refused(f"https://[{address}]/") is RefusalRule.ADDRESS
    assert _refused("https://hooks.bank.example/", resolver=_resolves_to(address)) is RefusalRule.ADDRESS


def test_a_public_https_target_on_an_allowed_port_passes_with_its_checked_address() -> None:
    checked = check_webhook_target("https://Hooks.Bank.example/alerts?x=1#frag", PRODUCTION,
                                   _resolves_to("2606:4700::1111", PUBLIC))
    assert (checked.host, checked.port, str(checked.address)) == ("hooks.bank.example", 443, "2606:4700::1111")
    assert checked.request_url() == "https://hooks.bank.example:443/alerts?x=1"
    on_8443 = check_webhook_target(f"https://{PUBLIC}:8443", PRODUCTION, _resolves_to())
    assert (on_8443.request_url(), str(on_8443.address)) == (f"https://{PUBLIC}:8443/", PUBLIC)
    literal = check_webhook_target("https://[2606:4700::1111]/", PRODUCTION, _resolves_to())
    assert literal.request_url() == "https://[2606:4700::1111]:443/"


@pytest.mark.parametrize(("url", "rule"), [
    (f"https://{PUBLIC}:22/", RefusalRule.PORT),
    (f"https://{PUBLIC}:80/", RefusalRule.PORT),
    (f"http://{PUBLIC}/", RefusalRule.SCHEME),
    (f"ftp://{PUBLIC}/", RefusalRule.SCHEME),
    (f"https://user:pw@{PUBLIC}/", RefusalRule.CREDENTIALS),
    (f"https://user@{PUBLIC}/", RefusalRule.CREDENTIALS),
    ("https:///hook", RefusalRule.MALFORMED),
    ("hooks.bank.example/hook", RefusalRule.MALFORMED),
    (f"https://{PUBLIC}:99999/", RefusalRule.MALFORMED),
    (f"https://{PUBLIC}:x/", RefusalRule.MALFORMED),
    ("https://hooks bank.example/", RefusalRule.MALFORMED),
    ("https://hooks.bank.example/\r\nX-Injected: 1", RefusalRule.MALFORMED),
    ("https://bänk.example/", RefusalRule.MALFORMED),
    ("https://under_score.example/", RefusalRule.MALFORMED),
    ("https://" + "a" * 2000 + ".example/", RefusalRule.MALFORMED),
])
def test_url_rules(url: str, rule: RefusalRule) -> None:
    assert _refused(url) is rule


def test_a_name_that_does_not_resolve_gets_the_same_answer_as_an_internal_one() -> None:
    with pytest.raises(WebhookTargetRefused) as unresolved:
        check_webhook_target("https://db.internal.example/", PRODUCTION, _resolves_to())
    with pytest.raises(WebhookTargetRefused) as internal:
        check_webhook_target("https://db.internal.example/", PRODUCTION, _resolves_to("10.0.0.9"))
    assert str(unresolved.value) == str(internal.value)
    assert "internal" not in str(internal.value) and "10.0.0.9" not in str(internal.value)


def test_the_test_switch_admits_http_and_loopback_only() -> None:
    assert check_webhook_target("http://127.0.0.1:38123/hook", TESTS).port == 38123
    assert check_webhook_target("http://receiver.test:9/", TESTS, _resolves_to("::1")).address == ipaddress.ip_address(
        "::1")
    assert _refused("http://169.254.169.254/", TESTS) is RefusalRule.ADDRESS
    assert _refused("http://10.0.0.1:8443/", TESTS) is RefusalRule.ADDRESS
    assert _refused(f"http://{PUBLIC}:22/", TESTS) is RefusalRule.PORT  # public targets keep the port list
    assert _refused("https://127.0.0.1/") is RefusalRule.ADDRESS  # and without the switch, loopback is refused


def test_the_port_list_is_the_servers_choice() -> None:
    policy = WebhookPolicy(ports=(9443,))
    assert check_webhook_target(f"https://{PUBLIC}:9443/", policy).port == 9443
    assert _refused(f"https://{PUBLIC}/", policy) is RefusalRule.PORT
    for bad in ((), (0,), (65536,)):
        with pytest.raises(ValueError):
            WebhookPolicy(ports=bad)
