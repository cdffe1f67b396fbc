"""The administrator's console sessions: opened by a log-in signed with the unit's approval key, kept in the
node's memory (a restart ends them) as digests of their ids, each with its own CSRF token and expiry.

Time is passed in (`now=`, epoch seconds), so expiry is tested without waiting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from webconsole.tokens import digest, random_token

DEFAULT_TTL_S = 30 * 60
MAX_SESSIONS = 64


@dataclass(frozen=True)
class AdminSession:
    """A live session: the token every form carries and when the session ends."""

    csrf: str
    expires_at: int


class AdminSessions:
    """Opens, resolves and ends sessions; at most `MAX_SESSIONS` live at once (the oldest goes first)."""

    def __init__(self, *, ttl_s: int = DEFAULT_TTL_S, randbytes: Callable[[int], bytes] = os.urandom) -> None:
        self.ttl_s, self._randbytes = ttl_s, randbytes
        self._live: dict[str, AdminSession] = {}
        self._lock = threading.Lock()

    def open(self, *, now: int) -> tuple[str, AdminSession]:
        """A new session for an administrator whose signed log-in was just verified: (session id, session)."""
        session_id = random_token(self._randbytes)
        session = AdminSession(random_token(self._randbytes), now + self.ttl_s)
        with self._lock:
            for old in [k for k, s in self._live.items() if s.expires_at <= now]:
                del self._live[old]
            while len(self._live) >= MAX_SESSIONS:
                del self._live[min(self._live, key=lambda k: self._live[k].expires_at)]
            self._live[digest(session_id)] = session
        return session_id, session

    def resolve(self, session_id: str | None, *, now: int) -> AdminSession | None:
        if not session_id or len(session_id) > 128:
            return None
        with self._lock:
            session = self._live.get(digest(session_id))
        return session if session is not None and session.expires_at > now else None

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._live.pop(digest(session_id), None)
