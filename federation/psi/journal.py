"""One side's resumable record of a PSI run, kept in its own job folder and never sent anywhere.

A PSI runs in rounds (docs/protocols/psi.md, "Resumption"): in round r each side blinds its own batch r,
re-blinds the peer's batch r and, when it may learn, gets its own batch r back doubly blinded. After round r
a side appends that round's results here, then saves checkpoint unit r + 1. A resumed run reads back:

* `secrets.bin`: this side's blinding scalar, the secret random order of its distinct ids (input rows) and a
  SHA-256 of its hashed points in that order, so the resumed run blinds the same points with the same key,
  in the same order, and a changed input is refused;
* `peer-<r>.bin`: the peer's batch r blinded by both keys (what this side compares against);
* `own-<r>.bin`: this side's own batch r blinded by both keys, in its order (only a side that learns).

These are exactly what the side holds in memory during an uninterrupted run. Every file is written
atomically; the stage handler removes the journal when the stage succeeds.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from federation.checkpoints import write_atomically
from federation.psi.errors import PsiProtocolError
from federation.psi.hashing import IdSet

JOURNALS = "psi-journal"  # the folder of a job's PSI journals, one sub-folder per pair
_SECRETS = "secrets.bin"
_MAGIC = b"xyd-psi-journal-1\n"


class PsiJournal:
    """The journal of one PSI pair at this side: a folder of small atomic files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def start(self, scalar: bytes, own: IdSet) -> None:
        """Record a fresh run's secret and order (before anything is sent); older rounds are forgotten."""
        self.clear()
        body = _MAGIC + scalar + _points_digest(own) + own.rows.astype("<i8").tobytes()
        write_atomically(self.folder / _SECRETS, body)

    def secrets(self) -> tuple[bytes, np.ndarray, bytes]:
        """(scalar, order of input rows, digest of the points in that order) of the recorded run."""
        try:
            body = (self.folder / _SECRETS).read_bytes()
        except FileNotFoundError:
            raise PsiProtocolError(f"no PSI journal in {self.folder.name} to resume from") from None
        if not body.startswith(_MAGIC) or (len(body) - len(_MAGIC) - 64) % 8:
            raise PsiProtocolError(f"the PSI journal in {self.folder.name} is damaged")
        rest = body[len(_MAGIC):]
        return rest[:32], np.frombuffer(rest[64:], dtype="<i8").astype(np.int64), rest[32:64]

    def check(self, own: IdSet, digest: bytes) -> None:
        """Refuse to resume over ids that are not those of the recorded run."""
        if _points_digest(own) != digest:
            raise PsiProtocolError("this side's ids changed since the PSI run it would resume")

    def save_round(self, index: int, peer_double: bytes | None, own_double: bytes | None) -> None:
        """Keep round `index`'s doubly blinded batches (None where the round had none)."""
        for kind, data in (("peer", peer_double), ("own", own_double)):
            if data is not None:
                write_atomically(self.folder / f"{kind}-{index:06d}.bin", data)

    def load(self, kind: str, rounds: int, batches: int) -> bytearray:
        """The `kind` ("peer" or "own") batches of rounds 0..rounds-1, back to back (at most `batches`)."""
        out = bytearray()
        for index in range(min(rounds, batches)):
            try:
                out += (self.folder / f"{kind}-{index:06d}.bin").read_bytes()
            except FileNotFoundError:
                raise PsiProtocolError(f"the PSI journal misses {kind} batch {index}") from None
        return out

    def clear(self) -> None:
        """Remove the journal (the secret scalar with it)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _points_digest(own: IdSet) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(own.points).tobytes()).digest()


def journal_for(work_dir: Path, name: str) -> PsiJournal:
    """The journal of one pair (`name`: the peer, or "leader" at a source node) in a job folder."""
    return PsiJournal(work_dir / JOURNALS / name.replace("/", "-"))


def remove_journals(work_dir: Path) -> None:
    """Remove every PSI journal of a job (the secret scalars with them), once the stage succeeded."""
    shutil.rmtree(work_dir / JOURNALS, ignore_errors=True)
