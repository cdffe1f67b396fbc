"""The witness role (played by each source node): check append-only growth of the log, then cosign.

For each log origin the witness keeps the last checkpoint it cosigned. Offered a new checkpoint it
1. verifies the log's signature on it;
2. refuses a smaller size (rollback) and the same size with another root (split view);
3. requires the log to prove consistency FROM the size it last saw (else `WitnessConflict(known_size)`,
   so the log can retry with the right proof), and verifies that proof;
4. records the new head with the log-signed note and its cosignature, then returns the cosignature
   (cosignature/v1). Recording before returning means a crash can never leave a cosignature the witness
   does not remember.
Asked later (`latest_cosigned`), it hands out that note cosigned afresh: "as of now, this is the largest
consistent tree head I have seen for this log". A compliance officer proves the stored log extends it, so a
log truncated, rolled back or forked after the witness saw it cannot pass as intact.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from consent.audit.checkpoint import Checkpoint, add_cosignatures
from consent.audit.cosignature import CosignatureSigner, CosignatureVerifier
from consent.audit.errors import (
    InconsistentCheckpointError,
    RollbackError,
    SplitViewError,
    UnknownLogError,
    WitnessConflict,
)
from consent.audit.note import Ed25519Verifier, Note, NoteSignature, open_note, parse_note
from consent.merkle import ProofError, verify_consistency


@dataclass(frozen=True)
class WitnessedHead:
    """The latest tree head a witness cosigned for one log, with the log-signed note it cosigned ("" if the
    head was recorded by a version that did not keep notes)."""

    origin: str
    size: int
    root: bytes
    note: str = ""


class WitnessStore(Protocol):
    """Where a witness keeps its latest head per log; `save` must be durable before it returns."""

    def load(self, origin: str) -> WitnessedHead | None: ...

    def save(self, head: WitnessedHead) -> None: ...


class MemoryWitnessStore:
    """Heads in a dict (tests, short-lived witnesses)."""

    def __init__(self) -> None:
        self._heads: dict[str, WitnessedHead] = {}

    def load(self, origin: str) -> WitnessedHead | None:
        return self._heads.get(origin)

    def save(self, head: WitnessedHead) -> None:
        self._heads[head.origin] = head


class JsonFileWitnessStore:
    """Heads in one JSON file, replaced atomically (write temp, fsync, rename) on every save."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)

    def _read(self) -> dict[str, dict[str, object]]:
        if not self._path.exists():
            return {}
        return json.loads(self._path.read_text())

    def load(self, origin: str) -> WitnessedHead | None:
        entry = self._read().get(origin)
        if entry is None:
            return None
        return WitnessedHead(origin, int(entry["size"]), base64.b64decode(str(entry["root"])),
                             str(entry.get("note", "")))

    def save(self, head: WitnessedHead) -> None:
        heads = self._read()
        heads[head.origin] = {"size": head.size, "root": base64.b64encode(head.root).decode(), "note": head.note}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".witness-")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(heads, out, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self._path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class Witness:
    """Cosigns checkpoints of the logs it follows, only along one append-only history per log."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Ed25519Verifier] | Sequence[Ed25519Verifier],
        store: WitnessStore | None = None,
    ) -> None:
        self._signer = signer
        verifiers = logs.values() if isinstance(logs, Mapping) else logs
        self._logs = {v.name: v for v in verifiers}
        self._store = store if store is not None else MemoryWitnessStore()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._signer.name

    def verifier(self) -> CosignatureVerifier:
        """The public half of this witness's cosigning key, for log clients' quorum policies."""
        return self._signer.verifier()

    def known_size(self, origin: str) -> int:
        """The size of the last checkpoint cosigned for `origin` (0 if none)."""
        head = self._store.load(origin)
        return 0 if head is None else head.size

    def add_checkpoint(
        self, note: str, *, old_size: int, proof: Sequence[bytes], now: datetime
    ) -> NoteSignature:
        """Verify `note` grows the log from `old_size` consistently; record it and return a cosignature."""
        with self._lock:
            text = parse_note(note).text
            checkpoint = Checkpoint.from_body(text)
            origin = checkpoint.origin
            log = self._logs.get(origin)
            if log is None:
                raise UnknownLogError(f"not a witness for log {origin!r}")
            opened = open_note(note, [log])  # the log's own signature must be present and valid
            # Keep the note with the log's signature only: a line added by someone else must not be
            # handed out later under this witness's name.
            signed = Note(text, tuple(s for s in opened.verified if (s.name, s.key_id) == (log.name, log.key_id))).encode()
            last = self._store.load(origin)
            known = 0 if last is None else last.size
            if checkpoint.size < known:
                raise RollbackError(known, checkpoint.size)
            if last is not None and checkpoint.size == known:
                if checkpoint.root != last.root:
                    raise SplitViewError(known, last.root, checkpoint.root)
                if proof:
                    raise InconsistentCheckpointError("same tree head: the proof must be empty")
                cosignature = self._signer.cosign(text, now=now)
                if not last.note:  # a head recorded before notes were kept: keep this one
                    self._store.save(WitnessedHead(origin, checkpoint.size, checkpoint.root, signed))
                return cosignature
            if old_size != known:
                raise WitnessConflict(known, old_size)
            if last is not None and known > 0:
                try:
                    verify_consistency(known, checkpoint.size, last.root, checkpoint.root, proof)
                except ProofError as error:
                    raise InconsistentCheckpointError(f"{known} -> {checkpoint.size}: {error}") from error
            elif proof:
                raise InconsistentCheckpointError("first checkpoint: the proof must be empty")
            cosignature = self._signer.cosign(text, now=now)
            self._store.save(WitnessedHead(origin, checkpoint.size, checkpoint.root, signed))
            return cosignature

    def latest_cosigned(self, origin: str, *, now: datetime) -> str | None:
        """The latest checkpoint this witness cosigned for `origin`, with the log's signature and a fresh
        cosignature at `now`; None if it has cosigned nothing for that log (or kept no note of it)."""
        with self._lock:
            head = self._store.load(origin)
            if head is None or not head.note:
                return None
            text = parse_note(head.note).text
            return add_cosignatures(head.note, [self._signer.cosign(text, now=now)])
