"""Failed-authentication limits with an injected clock: per address, per key id, refill, the key owner's
known address, IPv6 /64 grouping and bounded memory."""

from __future__ import annotations

import pytest

from platform_node.institutions.failed_auth import FailedAuthLimiter, FailedAuthLimits, client_key

KEY = "xyd.0123456789abcdef." + "A" * 43
OTHER_KEY = "xyd.fedcba9876543210." + "A" * 43


def test_an_address_is_held_back_after_its_burst_and_released_as_it_refills() -> None:
    limiter = FailedAuthLimiter(FailedAuthLimits(address_burst=3, address_per_minute=6.0, key_burst=100))
    for i in range(3):
        assert limiter.blocked_for("198.51.100.7", f"junk-{i}", now=0.0) == 0
        limiter.failed("198.51.100.7", f"junk-{i}", now=0.0)
    assert limiter.blocked_for("198.51.100.7", "junk", now=0.0) == 10.0  # one token per 10 s
    assert limiter.blocked_for("198.51.100.8", "junk", now=0.0) == 0  # another client is not affected
    assert limiter.blocked_for("198.51.100.7", "junk", now=4.0) == pytest.approx(6.0)
    assert limiter.blocked_for("198.51.100.7", "junk", now=10.0) == 0


def test_a_key_id_is_held_back_from_every_address_but_its_owners() -> None:
    limiter = FailedAuthLimiter(FailedAuthLimits(address_burst=100, key_burst=2, key_per_minute=6.0))
    limiter.succeeded("203.0.113.5", KEY, now=0.0)
    for i in range(2):
        limiter.failed(f"198.51.100.{i}", KEY, now=1.0)  # the guesses come from two addresses
    assert limiter.blocked_for("198.51.100.9", KEY, now=1.0) > 0
    assert limiter.blocked_for("198.51.100.9", OTHER_KEY, now=1.0) == 0
    assert limiter.blocked_for("203.0.113.5", KEY, now=1.0) == 0  # where the key worked before
    later = 1.0 + 86_401
    for i in range(2):
        limiter.failed(f"198.51.100.{i}", KEY, now=later)
    assert limiter.blocked_for("203.0.113.5", KEY, now=later) > 0  # that memory lasts a day
    assert limiter.blocked_for("198.51.100.9", "xyd.0123456789abcdef.short", now=1.0) > 0  # same key id


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    limiter = FailedAuthLimiter(FailedAuthLimits(address_burst=1))
    limiter.failed("2001:db8:1:2::1", None, now=0.0)
    assert limiter.blocked_for("2001:db8:1:2::2", None, now=0.0) > 0


def test_memory_is_bounded_and_idle_clients_go_first() -> None:
    limiter = FailedAuthLimiter(FailedAuthLimits(address_burst=2, address_per_minute=60.0, max_tracked=100))
    limiter.failed("198.51.100.1", None, now=0.0)
    limiter.failed("198.51.100.1", None, now=0.0)
    for i in range(1000):
        limiter.failed(f"10.0.{i // 250}.{i % 250}", None, now=float(i))
        assert len(limiter._addresses._buckets) <= 100  # noqa: SLF001 - the bound is the point
    assert limiter.blocked_for("10.0.3.249", None, now=999.0) == 0  # refilled to one token: checked again
