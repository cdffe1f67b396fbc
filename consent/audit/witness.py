"""The witness role (played by each source node): check append-only growth of the log, then cosign.

For each log origin the witness keeps the last checkpoint it cosigned. Offered a new checkpoint it
1. verifies the log's signature on it;
2. refuses a smaller size (rollback) and the same size with another root (split view);
3. requires the log to prove consistency FROM the size it last saw (else `WitnessConflict(known_size)`,
   so the log can retry with the right proof), and verifies that proof;
4. records the new head, then cosigns (cosignature/v1). Recording before signing means a crash can never
   leave a cosignature the witness does not remember.
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

from consent.audit.checkpoint import Checkpoint
from consent.audit.cosignature import CosignatureSigner, CosignatureVerifier
from consent.audit.errors import (
    InconsistentCheckpointError,
    RollbackError,
    SplitViewError,
    UnknownLogError,
    WitnessConflict,
)
from consent.audit.note import Ed25519Verifier, NoteSignature, open_note, parse_note
from consent.merkle import ProofError, verify_consistency


@dataclass(frozen=True)
class WitnessedHead:
    """The latest tree head a witness cosigned for one log."""

    origin: str
    size: int
    root: bytes


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
        return WitnessedHead(origin, int(entry["size"]), base64.b64decode(str(entry["root"])))

    def save(self, head: WitnessedHead) -> None:
        heads = self._read()
        heads[head.origin] = {"size": head.size, "root": base64.b64encode(head.root).decode()}
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
            open_note(note, [log])  # the log's own signature must be present and valid
            last = self._store.load(origin)
            known = 0 if last is None else last.size
            if checkpoint.size < known:
                raise RollbackError(known, checkpoint.size)
            if last is not None and checkpoint.size == known:
                if checkpoint.root != last.root:
                    raise SplitViewError(known, last.root, checkpoint.root)
                if proof:
                    raise InconsistentCheckpointError("same tree head: the proof must be empty")
            else:
                if old_size != known:
                    raise WitnessConflict(known, old_size)
                if last is not None and known > 0:
                    try:
                        verify_consistency(known, checkpoint.size, last.root, checkpoint.root, proof)
                    except ProofError as error:
                        raise InconsistentCheckpointError(f"{known} -> {checkpoint.size}: {error}") from error
                elif proof:
                    raise InconsistentCheckpointError("first checkpoint: the proof must be empty")
                self._store.save(WitnessedHead(origin, checkpoint.size, checkpoint.root))
            return self._signer.cosign(text, now=now)
