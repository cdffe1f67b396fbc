"""Application keys bound to a party's CA-issued certificate, so a relay cannot substitute its own keys.

A party (bank, source node, platform) signs a `KeyStatement` (its identity, its Ed25519/X25519 public keys,
a time) with the private key of its TLS certificate (ECDSA P-256). Whoever holds the federation's CA
certificate checks the certificate (issued by the CA, valid now, not on the CRL, URI SAN = the identity)
and the signature. The platform relays bindings between banks and source nodes but cannot forge one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.message import DecodeError, Message

from federation.pki import Identity, InvalidIdentity, NodeTls, PkiError, as_utc, check_validity, write_file
from federation.proto import verification_pb2
from federation.revocation import RevocationWatcher

M = TypeVar("M", bound=Message)

DOMAIN = b"xyd/key-binding/v1"


class KeyPurpose(StrEnum):
    """What a bound key is for; names the entries of a `KeyStatement` (the wire contract)."""

    REQUEST_SIGNING = "request_signing"  # bank: Ed25519, signs verification requests
    ANSWER_SEALING = "answer_sealing"  # bank: X25519, answers are sealed to it
    ANSWER_SIGNING = "answer_signing"  # source node: Ed25519, signs answers
    WITNESS = "witness"  # source node: Ed25519, cosigns the registry's checkpoints
    STATUS_SIGNING = "status_signing"  # platform registry: Ed25519, signs statuses and enterprise keys
    AUDIT_LOG = "audit_log"  # platform registry: Ed25519, signs checkpoints of the audit log

RAW_KEY_BYTES = 32
# A statement may claim a time this far in the future of the checker's clock (clock skew between hosts).
CLOCK_SKEW = dt.timedelta(minutes=5)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of an Ed25519 private key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 application key in `path` (PKCS#8 PEM), generated and written 0600 if absent."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise PkiError(f"{path} does not hold an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_file(path, pem, private=True)
    return key


def log_origin(registry: Identity) -> str:
    """The checkpoint origin (and audit-log key name) of the registry run by `registry`."""
    return f"xyd/{registry.role}/{registry.name}/audit-log"


class KeyBindingInvalid(PkiError):
    """A key binding does not verify: bad certificate, wrong identity, bad signature or malformed keys."""


@dataclass(frozen=True)
class BoundKeys:
    """The keys a verified binding vouches for."""

    identity: Identity
    keys: Mapping[str, bytes]
    issued_at: dt.datetime

    def key(self, purpose: str) -> bytes:
        """The raw public key for `purpose`; raises `KeyBindingInvalid` if the binding has none."""
        try:
            return self.keys[purpose]
        except KeyError:
            raise KeyBindingInvalid(f"{self.identity} binds no {purpose!r} key") from None


def _message(statement: bytes) -> bytes:
    return DOMAIN + b"\x00" + statement


def bind_keys(tls: NodeTls, keys: Mapping[str, bytes], *, now: dt.datetime | None = None) -> verification_pb2.KeyBinding:
    """Sign `keys` (purpose -> raw public key) with the certificate key of `tls`."""
    for purpose, raw in keys.items():
        if len(raw) != RAW_KEY_BYTES:
            raise ValueError(f"{purpose} key must be {RAW_KEY_BYTES} raw bytes")
    statement = verification_pb2.KeyStatement(
        identity=tls.identity.party, keys={str(p): raw for p, raw in keys.items()}, issued_at=int(as_utc(now).timestamp())
    ).SerializeToString()
    private = serialization.load_pem_private_key(tls.key_pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise PkiError("the certificate key is not an EC key")
    signature = private.sign(_message(statement), ec.ECDSA(hashes.SHA256()))
    return verification_pb2.KeyBinding(statement=statement, signature=signature, certificate_pem=tls.cert_pem)


class BindingVerifier:
    """Checks bindings against the CA certificate and (if given) its CRL; remembers verified bindings by
    their exact bytes, so a binding relayed with every request costs one comparison after the first time."""

    def __init__(self, ca_pem: bytes, crl_path: Path | None = None, *, cache_size: int = 1024) -> None:
        self._ca = x509.load_pem_x509_certificate(ca_pem)
        self._revocation = None if crl_path is None else RevocationWatcher(Path(crl_path), self._ca)
        self._cache: dict[bytes, tuple[x509.Certificate, BoundKeys]] = {}
        self._cache_size = cache_size

    def verify(
        self,
        binding: verification_pb2.KeyBinding,
        *,
        expected: Identity | str | None = None,
        now: dt.datetime | None = None,
    ) -> BoundKeys:
        """The keys `binding` vouches for; raises `KeyBindingInvalid`. With `expected`, the binding must be
        that party's. Validity and revocation of the certificate are checked at every call."""
        now = as_utc(now)
        cache_key = binding.SerializeToString(deterministic=True)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._verify_signature(binding)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[cache_key] = cached
        cert, bound = cached
        try:
            check_validity(cert, now=now)
            if self._revocation is not None:
                self._revocation.check(cert, subject=bound.identity.party, now=now)
        except PkiError as exc:
            raise KeyBindingInvalid(f"certificate of {bound.identity}: {exc}") from exc
        if bound.issued_at > now + CLOCK_SKEW:
            raise KeyBindingInvalid(f"binding of {bound.identity} is issued in the future")
        if expected is not None:
            want = expected if isinstance(expected, Identity) else Identity.parse(expected)
            if bound.identity != want:
                raise KeyBindingInvalid(f"binding is {bound.identity}'s, expected {want}")
        return bound

    def _verify_signature(self, binding: verification_pb2.KeyBinding) -> tuple[x509.Certificate, BoundKeys]:
        try:
            cert = x509.load_pem_x509_certificate(binding.certificate_pem)
            cert.verify_directly_issued_by(self._ca)
            identity = Identity.from_certificate(cert)
        except (ValueError, TypeError, InvalidSignature, InvalidIdentity) as exc:
            raise KeyBindingInvalid(f"certificate not issued by the federation CA: {exc}") from exc
        public = cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise KeyBindingInvalid("certificate key is not an EC key")
        try:
            public.verify(binding.signature, _message(binding.statement), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise KeyBindingInvalid(f"binding signature of {identity} does not verify") from exc
        statement = verification_pb2.KeyStatement()
        try:
            statement.ParseFromString(binding.statement)
        except DecodeError as exc:
            raise KeyBindingInvalid(f"malformed key statement: {exc}") from exc
        if statement.identity != identity.party:
            raise KeyBindingInvalid(f"statement names {statement.identity!r}, certificate {identity}")
        keys = dict(statement.keys)
        if any(len(raw) != RAW_KEY_BYTES for raw in keys.values()):
            raise KeyBindingInvalid("bound keys must be 32 raw bytes")
        issued = dt.datetime.fromtimestamp(statement.issued_at, dt.UTC)
        return cert, BoundKeys(identity, keys, issued)


# ---- statements signed with an application Ed25519 key (e.g. the registry's) ------------------------

ENTERPRISE_KEY_DOMAIN = b"xyd/enterprise-key/v1"


class StatementInvalid(PkiError):
    """A signed statement does not verify under the expected key and domain, or does not parse."""


def sign_statement(key: Ed25519PrivateKey, domain: bytes, statement: Message) -> verification_pb2.SignedStatement:
    """Serialize `statement` and sign `domain || 0x00 || bytes` with `key`."""
    payload = statement.SerializeToString()
    return verification_pb2.SignedStatement(statement=payload, signature=key.sign(domain + b"\x00" + payload))


def open_statement(signed: verification_pb2.SignedStatement, key: Ed25519PublicKey, domain: bytes,
                   message_type: type[M]) -> M:
    """The statement inside `signed` if `key` signed it in `domain`; raises `StatementInvalid`."""
    try:
        key.verify(signed.signature, domain + b"\x00" + signed.statement)
    except InvalidSignature as exc:
        raise StatementInvalid(f"{domain.decode()} statement signature does not verify") from exc
    message = message_type()
    try:
        message.ParseFromString(signed.statement)
    except DecodeError as exc:
        raise StatementInvalid(f"malformed {domain.decode()} statement: {exc}") from exc
    return message
