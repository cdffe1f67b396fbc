"""The compliance officer's own settings and memory: which log key and witnesses to trust, and the last
checkpoint the officer verified (kept outside the log's database, where its operator cannot rewrite it).

`officer.toml` (path from `--config` or `XYD_AUDIT_CONFIG`; relative paths are relative to the file):

    [log]
    vkey = "xyd/platform/main/audit-log+1a2b3c4d+AQ..."   # the log's verifier key (required)
    state = "audit-state.json"       # the last verified checkpoint (default: next to this file)
    quorum = 2                       # witnesses that must answer (default: a strict majority of [[witness]])
    max_witness_age_s = 300          # optional: a witness answer cosigned longer ago does not count

    [tls]                            # the officer's certificate (admin role) for asking the witnesses
    ca = "ca.pem"
    cert = "cert.pem"
    key = "key.pem"
    crl = "crl.pem"

    [[witness]]                      # one per source node; the name is the key's ("source/tax")
    vkey = "source/tax+53648ba4+BA4r..."
    address = "tax.example:7443"
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from consent.audit import Checkpoint, CosignatureVerifier, Ed25519Verifier, NoteError, parse_note
from errors import ConfigurationError
from federation.pki import NodeTls

STATE_NAME = "audit-state.json"


class OfficerConfigError(ConfigurationError):
    """The officer's configuration is missing something or malformed; the message names what."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the officer asks: its cosigning key (whose name is its party) and where it listens."""

    verifier: CosignatureVerifier
    address: str

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class OfficerConfig:
    log: Ed25519Verifier | None
    witnesses: tuple[WitnessEndpoint, ...]
    quorum: int | None
    state: Path | None
    max_witness_age: timedelta | None
    tls: NodeTls | None

    @classmethod
    def empty(cls) -> OfficerConfig:
        return cls(None, (), None, None, None, None)

    @classmethod
    def load(cls, path: Path) -> OfficerConfig:
        """Read `officer.toml`; every key is checked, unknown sections refused (a typo must not weaken a check)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise OfficerConfigError(f"cannot read {path}: {error}") from None
        unknown = set(raw) - {"log", "tls", "witness"}
        if unknown:
            raise OfficerConfigError(f"{path}: unknown sections {sorted(unknown)}")
        base = path.parent

        def resolve(value: object, what: str) -> Path:
            if not isinstance(value, str) or not value:
                raise OfficerConfigError(f"{path}: {what} must be a path")
            candidate = Path(value).expanduser()
            return candidate if candidate.is_absolute() else base / candidate

        section = raw.get("log", {})
        unknown = set(section) - {"vkey", "state", "quorum", "max_witness_age_s"}
        if unknown:
            raise OfficerConfigError(f"{path}: unknown [log] keys {sorted(unknown)}")
        try:
            log = Ed25519Verifier.from_vkey(section["vkey"]) if "vkey" in section else None
            witnesses = tuple(
                WitnessEndpoint(CosignatureVerifier.from_vkey(entry["vkey"]), str(entry["address"]))
                for entry in raw.get("witness", [])
            )
        except (KeyError, TypeError) as error:
            raise OfficerConfigError(f"{path}: every [[witness]] needs vkey and address ({error})") from None
        except (NoteError, ValueError) as error:
            raise OfficerConfigError(f"{path}: bad verifier key: {error}") from None
        names = [w.name for w in witnesses]
        if len(set(names)) != len(names):
            raise OfficerConfigError(f"{path}: a witness is listed twice ({sorted(n for n in names if names.count(n) > 1)[0]})")
        quorum = section.get("quorum")
        if quorum is not None and (not isinstance(quorum, int) or quorum < 0):
            raise OfficerConfigError(f"{path}: [log] quorum must be a non-negative integer")
        age = section.get("max_witness_age_s")
        if age is not None and (not isinstance(age, int | float) or age <= 0):
            raise OfficerConfigError(f"{path}: [log] max_witness_age_s must be a positive number")
        tls = None
        if "tls" in raw:
            table = raw["tls"]
            try:
                tls = NodeTls.load(resolve(table.get("ca"), "[tls] ca"), resolve(table.get("cert"), "[tls] cert"),
                                   resolve(table.get("key"), "[tls] key"),
                                   resolve(table["crl"], "[tls] crl") if table.get("crl") else None)
            except OSError as error:
                raise OfficerConfigError(f"{path}: cannot load [tls]: {error}") from None
        return cls(log=log, witnesses=witnesses, quorum=quorum,
                   state=resolve(section["state"], "[log] state") if "state" in section else base / STATE_NAME,
                   max_witness_age=None if age is None else timedelta(seconds=age), tls=tls)


def default_state_path() -> Path:
    """Where the last verified checkpoint is kept without a config file: the user's config directory."""
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "xyd" / STATE_NAME


class VerifiedState:
    """The officer's copy of the last verified checkpoint of each log (by origin), in one JSON file.

    Written only after a verification succeeded, atomically (temporary file, fsync, rename); the note is
    re-verified with the log key whenever it is used, so an edited file is an error, not a new truth.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, object]]:
        if not self.path.exists():
            return {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise OfficerConfigError(f"state file {self.path} is unreadable: {error}") from None
        if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
            raise OfficerConfigError(f"state file {self.path} is not a map of log origins")
        return document

    def last_verified(self, origin: str) -> str | None:
        """The note kept for log `origin`, or None if the officer never verified it."""
        entry = self._read().get(origin)
        if entry is None:
            return None
        note = entry.get("note")
        if not isinstance(note, str):
            raise OfficerConfigError(f"state file {self.path}: the entry of {origin} holds no note")
        return note

    def remember(self, note: str) -> None:
        """Keep `note` (a checkpoint that was just verified) as the last verified checkpoint of its log."""
        checkpoint = Checkpoint.from_body(parse_note(note).text)
        document = self._read()
        document[checkpoint.origin] = {"size": checkpoint.size, "note": note}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".audit-state-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
