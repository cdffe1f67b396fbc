"""Application keys of institutions and nodes: the Ed25519 key that signs their messages and, for banks, the
X25519 key answers are sealed to. Filled from the PKI the coordinator runs; identities are `kind/name`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from consent.authorisation.errors import UnknownInstitutionKeys
from consent.authorisation.terms import check_identity


@dataclass(frozen=True)
class InstitutionKeys:
    """The public keys of one party. `sealing_key` is None for parties that never receive sealed answers."""

    identity: str
    signing_key: Ed25519PublicKey
    sealing_key: X25519PublicKey | None = None

    def __post_init__(self) -> None:
        check_identity(self.identity, "institution")


class InstitutionDirectory:
    """Identity -> public keys, as the node learned them from the PKI (never from the request itself)."""

    def __init__(self, entries: Iterable[InstitutionKeys] = ()) -> None:
        self._entries: dict[str, InstitutionKeys] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: InstitutionKeys) -> None:
        self._entries[entry.identity] = entry

    def remove(self, identity: str) -> None:
        self._entries.pop(identity, None)

    def keys_of(self, identity: str) -> InstitutionKeys:
        """The keys of `identity`; raises `UnknownInstitutionKeys`."""
        try:
            return self._entries[identity]
        except KeyError:
            raise UnknownInstitutionKeys(identity) from None

    def signing_key(self, identity: str) -> Ed25519PublicKey:
        return self.keys_of(identity).signing_key

    def sealing_key(self, identity: str) -> X25519PublicKey:
        """The X25519 key answers to `identity` are sealed to; raises `UnknownInstitutionKeys` if it has none."""
        key = self.keys_of(identity).sealing_key
        if key is None:
            raise UnknownInstitutionKeys(f"{identity} has no sealing key")
        return key
