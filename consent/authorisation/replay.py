"""The source node's replay cache: one row per (requester, nonce) seen, kept only as long as a request with
that timestamp could still pass the freshness check, so its size is bounded by the request rate times the
timestamp window. Persisted in the node's database, so a restart does not reopen the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from consent.authorisation.errors import AuthorisationRefused, RefusalReason
from consent.authorisation.schema import seen_nonces, to_epoch


class ReplayCache:
    """Admits each (requester, nonce) once. Precondition: callers refuse timestamps older than `window`."""

    def __init__(self, engine: Engine, *, window: timedelta) -> None:
        self._engine = engine
        self._window = int(window.total_seconds())

    def admit(self, *, requester: str, nonce: str, timestamp: datetime, now: datetime) -> None:
        """Record the nonce (in its own committed transaction) or raise `AuthorisationRefused(REPLAYED_NONCE)`.

        A row lives until timestamp + window: after that the freshness check alone refuses the request.
        """
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(seen_nonces).where(seen_nonces.c.expires_at < to_epoch(now)))
                conn.execute(
                    insert(seen_nonces).values(
                        requester=requester, nonce=nonce, expires_at=to_epoch(timestamp) + self._window
                    )
                )
        except IntegrityError as exc:
            raise AuthorisationRefused(RefusalReason.REPLAYED_NONCE, f"nonce {nonce} from {requester}") from exc

    def size(self) -> int:
        """Rows currently held (for tests and metrics)."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(seen_nonces)).scalar_one()
