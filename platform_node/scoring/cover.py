"""Cover queries: each real enterprise is asked for inside a fixed group of k + 1 enterprises of the served
population, in a uniformly shuffled order, so a source learns only that the real one is among them.

Groups are a partition of the population under a secret keyed order (HMAC of each credit code), so asking for
any member of a group always sends the very same group: repeating a query, or querying two members, tells a
source nothing about which member was meant. An enterprise outside the population (a bank may ask for any
code) gets itself plus k members chosen by the same key, always the same. The key is kept beside the model so
groups survive a restart (new groups would let a source intersect the two).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class CoverGroups:
    """The cover group of every enterprise of `population` (groups of `k` + 1; the last one up to 2k + 1)."""

    def __init__(self, population: Sequence[str], k: int, key: bytes, rng: random.Random | None = None) -> None:
        self.k = k
        self._key = key
        self._rng = rng or secrets.SystemRandom()
        ordered = sorted(dict.fromkeys(population), key=self._tag)
        size = k + 1
        groups = [tuple(ordered[i: i + size]) for i in range(0, len(ordered), size)]
        if len(groups) > 1 and len(groups[-1]) < size:  # too few to hide in: the remainder joins the group before
            groups[-2:] = [groups[-2] + groups[-1]]
        self._ordered = ordered
        self._group = {cid: group for group in groups for cid in group}

    def _tag(self, credit_code: str) -> bytes:
        return hmac.new(self._key, credit_code.encode(), hashlib.sha256).digest()

    def group_of(self, credit_code: str) -> tuple[str, ...]:
        """The enterprises sent whenever `credit_code` is scored (itself included)."""
        found = self._group.get(credit_code)
        if found is not None:
            return found
        if len(self._ordered) < self.k:
            return (credit_code, *self._ordered)
        # Outside the population: k members picked by the key from the code, the same on every query.
        start = int.from_bytes(self._tag(credit_code)[:8], "big") % len(self._ordered)
        return (credit_code, *(self._ordered[(start + j) % len(self._ordered)] for j in range(self.k)))

    def disguise(self, credit_codes: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """(the ids to send: the union of the groups, uniformly shuffled; where each real code sits in them)."""
        sent = list(dict.fromkeys(cid for code in credit_codes for cid in self.group_of(code)))
        self._rng.shuffle(sent)
        position = {cid: i for i, cid in enumerate(sent)}
        return sent, np.array([position[code] for code in credit_codes], dtype=np.intp)


def cover_key(folder: Path | None) -> bytes:
    """The secret that orders the cover groups: `cover.key` in `folder` (made once), or a fresh one."""
    if folder is None:
        return os.urandom(32)
    path = folder / "cover.key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(os.urandom(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()
