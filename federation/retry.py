"""When and how long to retry a gRPC call that failed transiently (exponential backoff with jitter)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

# UNAVAILABLE covers refused connections, resets and a peer restarting; RESOURCE_EXHAUSTED a busy peer.
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt a call up to `max_attempts` times; attempt k+1 waits initial * multiplier^(k-1), capped, +/- jitter."""

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    retryable: frozenset[grpc.StatusCode] = TRANSIENT_CODES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.initial_backoff <= self.max_backoff:
            raise ValueError("need 0 < initial_backoff <= max_backoff")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        # Jitter spreads the retries of many senders that failed together (a peer restart).
        return base * (1 + self.jitter * rng.uniform(-1.0, 1.0))

    def should_retry(self, code: grpc.StatusCode, attempt: int) -> bool:
        """Whether a call that failed with `code` on attempt `attempt` gets another attempt."""
        return code in self.retryable and attempt < self.max_attempts

    def worst_case_seconds(self) -> float:
        """Upper bound of the total backoff sleep over all attempts (not counting the attempts themselves)."""
        return sum(
            min(self.max_backoff, self.initial_backoff * self.multiplier ** (k - 1)) * (1 + self.jitter)
            for k in range(1, self.max_attempts)
        )
