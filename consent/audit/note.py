"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 (type 0x01) and cosignature/v1 (type 0x04) keys.

A note is a text ending in a newline, a blank line, then signature lines `— <name> <base64(keyid || sig)>`
where keyid = SHA-256(name || 0x0A || type || public key)[:4]. Verifiers ignore signatures from keys they do
not know (by name AND key id), reject the note if a known key's signature fails, and require at least one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, Self, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.audit.errors import NoteError, SignatureError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 64  # the spec asks verifiers to accept at least 16
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_NAME = re.compile(r"[^\s+]+")
V = TypeVar("V", bound="NamedVerifier")


def check_key_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NoteError(f"key name must be non-empty without spaces or '+': {name!r}")
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """The 32-bit key id: the first four bytes (big-endian) of SHA-256(name || LF || type || key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key id, and the signature bytes that follow the id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        """The note in its wire form."""
        return self.text + "\n" + "".join(sig.line() + "\n" for sig in self.signatures)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        """A copy with more signatures; a second signature by the same (name, key id) is dropped."""
        seen = {(s.name, s.key_id) for s in self.signatures}
        added = []
        for sig in extra:
            if (sig.name, sig.key_id) not in seen:
                seen.add((sig.name, sig.key_id))
                added.append(sig)
        return Note(self.text, self.signatures + tuple(added))


def parse_note(data: str | bytes) -> Note:
    """Split a note into text and signatures, checking the format (not the signatures)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    if _CONTROL.search(data):
        raise NoteError("note contains control characters other than newline")
    if not data.endswith("\n"):
        raise NoteError("note does not end with a newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("note has no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, at most {MAX_SIGNATURES} accepted")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        parts = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(parts) != 2:
            raise NoteError("malformed signature line")
        name, encoded = check_key_name(parts[0]), parts[1]
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"signature of {name} is not base64") from None
        if len(blob) < 5:
            raise NoteError(f"signature of {name} is too short")
        signatures.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
    return Note(text, tuple(signatures))


def format_vkey(name: str, signature_type: int, public_key: bytes) -> str:
    """`name+hex(keyid)+base64(type || key)`: how verifier keys are written in configuration."""
    material = base64.b64encode(bytes([signature_type]) + public_key).decode()
    return f"{name}+{key_id(name, signature_type, public_key):08x}+{material}"


def parse_vkey(vkey: str, signature_type: int) -> tuple[str, bytes]:
    """Parse a verifier key of the given type; return (name, 32-byte Ed25519 key). The key id is checked."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise NoteError("verifier key must be name+keyid+base64")
    name = check_key_name(parts[0])
    try:
        material = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("verifier key material is not base64") from None
    if len(material) != 33 or material[0] != signature_type:
        raise NoteError(f"verifier key is not a type 0x{signature_type:02x} Ed25519 key")
    if key_id(name, signature_type, material[1:]) != int(parts[1], 16):
        raise NoteError("verifier key id does not match its name and key")
    return name, material[1:]


class NoteVerifier(Protocol):
    """A known key: it claims signatures by name and key id and checks them."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: str, signature: NoteSignature) -> None:
        """Raise SignatureError unless `signature` is a valid signature of `text` by this key."""
        ...


class NamedVerifier:
    """A named Ed25519 public key of one signed-note signature type; subclasses say what the key signs."""

    SIGNATURE_TYPE: int = ED25519

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        self._name = check_key_name(name)
        self._key = public_key
        self._key_id = key_id(name, self.SIGNATURE_TYPE, _raw_public(public_key))

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key

    def vkey(self) -> str:
        """The verifier key string `name+hex(keyid)+base64(type || key)` used to configure clients."""
        return format_vkey(self._name, self.SIGNATURE_TYPE, _raw_public(self._key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Parse a verifier key string of this signature type (its key id is checked)."""
        name, public_key = parse_vkey(vkey, cls.SIGNATURE_TYPE)
        return cls(name, Ed25519PublicKey.from_public_bytes(public_key))


class Ed25519Verifier(NamedVerifier):
    """Verifier of plain Ed25519 note signatures (type 0x01): log checkpoints."""

    def verify(self, text: str, signature: NoteSignature) -> None:
        try:
            self._key.verify(signature.signature, text.encode())
        except InvalidSignature:
            raise SignatureError(f"signature by {self._name} does not verify") from None


class NamedSigner(Generic[V]):
    """A named Ed25519 private key and the verifier of what it signs; subclasses say how it signs."""

    VERIFIER: type[V]

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._name = check_key_name(name)
        self._key = private_key
        self._verifier = self.VERIFIER(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        return self._name

    def verifier(self) -> V:
        return self._verifier


class Ed25519Signer(NamedSigner[Ed25519Verifier]):
    """Signs note texts as one named Ed25519 key (the log's checkpoint key)."""

    VERIFIER = Ed25519Verifier

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self._name, self._verifier.key_id, self._key.sign(text.encode()))


def sign_note(text: str, signers: Sequence[Ed25519Signer]) -> str:
    """A note of `text` signed by every signer. `text` must end with a newline and contain no blank last line."""
    if not text.endswith("\n") or text.endswith("\n\n") or _CONTROL.search(text):
        raise NoteError("note text must end with one newline and contain no control characters")
    if not signers:
        raise NoteError("a note needs at least one signature")
    return Note(text, tuple(signer.sign(text) for signer in signers)).encode()


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose signatures from known keys all verified; `verified` lists those signatures."""

    note: Note
    verified: tuple[NoteSignature, ...]


def open_note(data: str | bytes, verifiers: Sequence[NoteVerifier]) -> VerifiedNote:
    """Parse and verify a note against known keys (signed-note rules: unknown keys are ignored)."""
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is not None:
            verifier.verify(note.text, signature)
            verified.append(signature)
    if not verified:
        raise SignatureError("no signature from a known key")
    return VerifiedNote(note, tuple(verified))
