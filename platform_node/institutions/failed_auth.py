"""Rate limits on failed authentication, per client address and per presented key id.

Each failure takes a token from two buckets: the client address's and the key id's (when the presented
token has the shape of a key). While either bucket is empty, further attempts from that address or on that
key id are answered 429 before any credential is checked, so guessing costs the guesser time and costs the
server nothing: no database read, no hash. A success takes no token. IPv6 clients are counted per /64,
the block one subscriber usually holds, so rotating addresses inside it does not reset the count.

So that someone who learnt a key id cannot lock its owner out by failing on it from elsewhere, an address
from which the key authenticated within `known_client_s` is not held back by that key id's bucket (its own
address bucket still applies).

Buckets live in memory, bounded in number: when the table is full, buckets that have refilled (idle
clients) are dropped first. Time comes from the caller (seconds), so tests advance a clock instead of
sleeping.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass

from platform_node.institutions.credentials import key_id_of


@dataclass(frozen=True)
class FailedAuthLimits:
    """Failures allowed in a burst and refilled per minute, per client address and per key id."""

    address_burst: int = 20
    address_per_minute: float = 12.0
    key_burst: int = 10
    key_per_minute: float = 6.0
    known_client_s: float = 86_400.0
    max_tracked: int = 100_000

    def __post_init__(self) -> None:
        if min(self.address_burst, self.key_burst) < 1 or min(self.address_per_minute, self.key_per_minute) <= 0:
            raise ValueError("failed-authentication bursts must be >= 1 and refill rates positive")
        if self.max_tracked < 100:
            raise ValueError("max_tracked must be at least 100")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class _Buckets:
    """Token buckets with one burst and refill rate, keyed by string, at most `limit` of them."""

    def __init__(self, burst: int, per_minute: float, limit: int) -> None:
        self._burst, self._rate, self._limit = float(burst), per_minute / 60.0, limit
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self._burst, bucket.tokens + max(0.0, now - bucket.updated) * self._rate)

    def wait(self, key: str, now: float) -> float:
        """Seconds until the bucket holds a token again (0 if it holds one now)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = self._refilled(bucket, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate

    def take(self, key: str, now: float) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._limit:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = max(0.0, self._refilled(bucket, now) - 1.0)
        bucket.updated = max(bucket.updated, now)

    def _prune(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if self._refilled(b, now) < self._burst}
        if len(self._buckets) >= self._limit:  # a flood of distinct clients: keep the emptiest half
            ranked = sorted(self._buckets.items(), key=lambda item: self._refilled(item[1], now))
            self._buckets = dict(ranked[: self._limit // 2])


def client_key(address: str | None) -> str:
    """The bucket key of a client address: the address itself for IPv4, its /64 for IPv6."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


class FailedAuthLimiter:
    """Thread-safe failure counting per client address and key id."""

    def __init__(self, limits: FailedAuthLimits | None = None) -> None:
        self.limits = limits = limits or FailedAuthLimits()
        self._addresses = _Buckets(limits.address_burst, limits.address_per_minute, limits.max_tracked)
        self._keys = _Buckets(limits.key_burst, limits.key_per_minute, limits.max_tracked)
        self._known: dict[tuple[str, str], float] = {}  # (client, key id) -> last success
        self._lock = threading.Lock()

    def blocked_for(self, address: str | None, token: str | None, *, now: float, key_id: str | None = None) -> float:
        """Seconds this client must wait before its credentials are checked again (0: check them now).
        `key_id` names the presented key when the credential is not an API key (an enterprise's signature)."""
        key_id, client = key_id or key_id_of(token), client_key(address)
        with self._lock:
            wait = self._addresses.wait(client, now)
            if key_id is not None:
                known = self._known.get((client, key_id))
                if known is None or now - known > self.limits.known_client_s:
                    wait = max(wait, self._keys.wait(key_id, now))
        return wait

    def succeeded(self, address: str | None, token: str | None, *, now: float, key_id: str | None = None) -> None:
        """Remember that the key authenticated from this client (see the module docstring)."""
        key_id = key_id or key_id_of(token)
        if key_id is None:
            return
        with self._lock:
            if len(self._known) >= self.limits.max_tracked:
                horizon = now - self.limits.known_client_s
                self._known = {k: t for k, t in self._known.items() if t >= horizon}
                if len(self._known) >= self.limits.max_tracked:
                    self._known.clear()
            self._known[(client_key(address), key_id)] = now

    def failed(self, address: str | None, token: str | None, *, now: float, key_id: str | None = None) -> None:
        """Count one failed authentication against the client's address and the presented key id."""
        key_id = key_id or key_id_of(token)
        with self._lock:
            self._addresses.take(client_key(address), now)
            if key_id is not None:
                self._keys.take(key_id, now)
