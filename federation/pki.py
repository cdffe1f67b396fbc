"""The federation's private PKI: one ECDSA P-256 CA, node certificates naming a SPIFFE identity, a CRL.

A node's identity is the URI SAN `spiffe://xyd/<role>/<name>` of its certificate, nothing else. Each node
certificate also carries the DNS SAN `<name>.<role>.xyd` so a client pins the server it expects through
gRPC's target-name override, plus `localhost`/127.0.0.1/::1 for loopback runs. ECDSA P-256 because gRPC's
TLS stack refuses Ed25519 leaves.

Directory layout written by `CertificateAuthority`:
    ca.pem  ca-key.pem (0600)  crl.pem  issued/<serial-hex>.pem
    nodes/<role>-<name>/{ca.pem, cert.pem, key.pem (0600)}

The CA key may be stored encrypted under a passphrase (PKCS#8 with the best encryption `cryptography`
offers); it is then needed to issue, revoke and re-sign the CRL, never to read or verify.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from errors import IntegrityFailure, InvalidInput, Refused, XydError

TRUST_DOMAIN = "xyd"
ROLES = frozenset({"coordinator", "platform", "source", "bank", "admin"})
# A name is one DNS label (so `<name>.<role>.xyd` is a valid host name) that may also use underscores.
_NAME = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*\Z")
_NAME_MAX = 63
CRL_DAYS = 90  # a CRL older than its next-update is refused: re-sign it (`xyd pki crl`) within this period
_LOOPBACK_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


class PkiError(XydError):
    """Base class of certificate, key and revocation-list failures."""


class InvalidIdentity(PkiError, InvalidInput):
    """A role/name pair, party string or URI does not name a valid xyd identity."""


class CertificateNotValid(PkiError, Refused):
    """A certificate is outside its validity window at the time of the check."""

    def __init__(
        self, subject: str, not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime
    ) -> None:
        state = "not yet valid" if now < not_before else "expired"
        super().__init__(
            f"certificate of {subject} is {state}: valid {not_before.isoformat()} .. {not_after.isoformat()},"
            f" now {now.isoformat()}"
        )
        self.subject, self.not_before, self.not_after, self.now = subject, not_before, not_after, now


class CertificateRevoked(PkiError, Refused):
    """A certificate's serial number is on the CA's revocation list."""

    def __init__(self, subject: str, serial: int, revoked_at: dt.datetime) -> None:
        super().__init__(f"certificate {serial:x} of {subject} was revoked at {revoked_at.isoformat()}")
        self.subject, self.serial, self.revoked_at = subject, serial, revoked_at


class KeyMismatch(PkiError, IntegrityFailure):
    """A private key does not belong to the certificate it is paired with."""


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime (the default of every `now=` parameter)."""
    return dt.datetime.now(dt.UTC)


def as_utc(now: dt.datetime | None) -> dt.datetime:
    """`now` as aware UTC (the current time when None); a naive datetime is refused."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


@dataclass(frozen=True, order=True)
class Identity:
    """A party of the federation: a role and a name, e.g. source/tax."""

    role: str
    name: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidIdentity(f"unknown role {self.role!r}: expected one of {sorted(ROLES)}")
        if len(self.name) > _NAME_MAX or not _NAME.match(self.name):
            raise InvalidIdentity(
                f"invalid name {self.name!r}: lower-case letters and digits, single '-' or '_' between them,"
                f" at most {_NAME_MAX} characters"
            )

    @property
    def party(self) -> str:
        """The party string channels use: `source/tax`."""
        return f"{self.role}/{self.name}"

    @property
    def uri(self) -> str:
        """The SPIFFE URI carried as the certificate's URI SAN."""
        return f"spiffe://{TRUST_DOMAIN}/{self.role}/{self.name}"

    @property
    def dns_name(self) -> str:
        """The host name a client expects from this server (gRPC target-name override)."""
        return f"{self.name}.{self.role}.{TRUST_DOMAIN}"

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Read `role/name` or `spiffe://xyd/role/name`."""
        prefix = f"spiffe://{TRUST_DOMAIN}/"
        body = text[len(prefix) :] if text.startswith(prefix) else text
        if "://" in body:
            raise InvalidIdentity(f"{text!r} is not in the {TRUST_DOMAIN} trust domain")
        parts = body.split("/")
        if len(parts) != 2:
            raise InvalidIdentity(f"{text!r} is not of the form role/name")
        return cls(parts[0], parts[1])

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> Identity:
        """The identity named by the certificate's single `spiffe://xyd/` URI SAN."""
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound as exc:
            raise InvalidIdentity("certificate has no subject alternative name") from exc
        uris = [
            u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("spiffe://")
        ]
        if len(uris) != 1:
            raise InvalidIdentity(f"certificate must carry exactly one SPIFFE URI SAN, found {uris}")
        if not uris[0].startswith(f"spiffe://{TRUST_DOMAIN}/"):
            raise InvalidIdentity(f"{uris[0]!r} is not in the {TRUST_DOMAIN} trust domain")
        return cls.parse(uris[0])

    def __str__(self) -> str:
        return self.party


def check_validity(cert: x509.Certificate, *, now: dt.datetime | None = None) -> None:
    """Raise `CertificateNotValid` unless `now` lies within the certificate's validity window."""
    now = as_utc(now)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateNotValid(
            cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc, now
        )


@dataclass(frozen=True)
class NodeTls:
    """Everything one process needs for mutual TLS: its identity, the CA, its certificate and key, the CRL."""

    identity: Identity
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    crl_path: Path | None = None

    @classmethod
    def load(
        cls, ca: Path, cert: Path, key: Path, crl: Path | None = None, *, now: dt.datetime | None = None
    ) -> NodeTls:
        """Read PEM files; refuse a certificate outside its validity window, not signed by the CA, or not
        matching the key."""
        ca_pem, cert_pem, key_pem = Path(ca).read_bytes(), Path(cert).read_bytes(), Path(key).read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        own = x509.load_pem_x509_certificate(cert_pem)
        check_validity(own, now=now)
        try:
            own.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise PkiError(f"{cert} is not issued by the CA in {ca}: {exc}") from exc
        private = serialization.load_pem_private_key(key_pem, password=None)
        if private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != own.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise KeyMismatch(f"{key} is not the private key of {cert}")
        return cls(Identity.from_certificate(own), ca_pem, cert_pem, key_pem, Path(crl) if crl else None)

    @classmethod
    def load_issued(cls, directory: Path, identity: Identity, *, now: dt.datetime | None = None) -> NodeTls:
        """Load a node's files from a CA directory laid out by `CertificateAuthority`.

        The CRL path is always set: a server whose crl.pem goes missing refuses every peer (fails closed).
        """
        node = node_directory(directory, identity)
        return cls.load(
            node / "ca.pem", node / "cert.pem", node / "key.pem", Path(directory) / "crl.pem", now=now
        )

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def node_directory(directory: Path, identity: Identity) -> Path:
    """Where `CertificateAuthority.issue` writes the files of `identity`."""
    return Path(directory) / "nodes" / f"{identity.role}-{identity.name}"


def write_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write atomically (temp file + rename); private files are created 0600 and never exist wider."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates files 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pem_key(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@dataclass(frozen=True)
class IssuedCertificate:
    """One certificate the CA has issued, as `show` reports it."""

    identity: Identity
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    revoked: bool


class CertificateAuthority:
    """The federation CA: issues node certificates and signs the revocation list."""

    def __init__(self, directory: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
        self.directory = Path(directory)
        self.certificate = cert
        self._key_or_none = key

    @property
    def _key(self) -> ec.EllipticCurvePrivateKey:
        if self._key_or_none is None:
            raise PkiError(f"{self.directory} was opened without its key (read-only): it cannot sign")
        return self._key_or_none

    @property
    def ca_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def crl_path(self) -> Path:
        return self.directory / "crl.pem"

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        days: int = 3650,
        now: dt.datetime | None = None,
        common_name: str = "xyd federation CA",
        passphrase: bytes | None = None,
    ) -> CertificateAuthority:
        """Create a new CA (ECDSA P-256) in an empty or new directory, with an empty CRL; with `passphrase`,
        its key is stored encrypted."""
        if passphrase is not None and not passphrase:
            raise PkiError("an empty passphrase would not protect the CA key")
        directory = Path(directory)
        if (directory / "ca-key.pem").exists():
            raise PkiError(f"{directory} already holds a CA: refusing to overwrite its key")
        now = as_utc(now)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, TRUST_DOMAIN),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        write_file(directory / "ca-key.pem", _pem_key(key, passphrase), private=True)
        write_file(directory / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
        ca = cls(directory, cert, key)
        ca.refresh_crl(now=now)
        return ca

    @classmethod
    def load(cls, directory: Path, *, passphrase: bytes | None = None) -> CertificateAuthority:
        """Open an existing CA directory with its key (`passphrase` if the key is stored encrypted)."""
        directory = Path(directory)
        if not (directory / "ca-key.pem").exists():
            raise PkiError(f"{directory} holds no CA (ca-key.pem missing): run `xyd pki init` first")
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        data = (directory / "ca-key.pem").read_bytes()
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        if encrypted and not passphrase:
            raise PkiError(f"{directory / 'ca-key.pem'} is encrypted: give its passphrase "
                           "(XYD_CA_PASSPHRASE or --passphrase-file)")
        if not encrypted and passphrase:
            raise PkiError(f"{directory / 'ca-key.pem'} is not encrypted, but a passphrase was given")
        try:
            key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
        except ValueError as exc:
            raise PkiError(f"cannot read {directory / 'ca-key.pem'}: wrong passphrase or damaged file") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError("the CA key is not an EC key")
        if key.public_key() != cert.public_key():
            raise KeyMismatch(f"{directory / 'ca-key.pem'} is not the key of {directory / 'ca.pem'}")
        return cls(directory, cert, key)

    @classmethod
    def open_read_only(cls, directory: Path) -> CertificateAuthority:
        """Open a CA directory without its key: enough to list what it issued and read its CRL."""
        directory = Path(directory)
        if not (directory / "ca.pem").exists():
            raise PkiError(f"{directory} holds no CA (ca.pem missing): run `xyd pki init` first")
        return cls(directory, x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes()), None)

    def issue(
        self,
        identity: Identity,
        *,
        days: int = 365,
        now: dt.datetime | None = None,
        hosts: tuple[str, ...] = (),
    ) -> NodeTls:
        """Issue a certificate for `identity` (plus any extra DNS `hosts`) and write it under nodes/."""
        if days <= 0:
            raise ValueError("days must be positive")
        now = as_utc(now)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(identity.uri),
            x509.DNSName(identity.dns_name),
            x509.DNSName("localhost"),
            *[x509.DNSName(h) for h in hosts],
            *[x509.IPAddress(ip) for ip in _LOOPBACK_IPS],
        ]
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TRUST_DOMAIN),
                        x509.NameAttribute(NameOID.COMMON_NAME, identity.party),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew between nodes
            .not_valid_after(min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _pem_key(key)
        node = node_directory(self.directory, identity)
        node.mkdir(parents=True, exist_ok=True)
        os.chmod(node, 0o700)
        write_file(node / "key.pem", key_pem, private=True)
        write_file(node / "cert.pem", cert_pem)
        write_file(node / "ca.pem", self.ca_pem)
        write_file(self.directory / "issued" / f"{cert.serial_number:x}.pem", cert_pem)
        return NodeTls(identity, self.ca_pem, cert_pem, key_pem, self.crl_path)

    def issued(self) -> list[IssuedCertificate]:
        """Every certificate this CA issued, oldest first, with its revocation status."""
        revoked = self._revoked_entries()
        out = []
        for path in sorted((self.directory / "issued").glob("*.pem")):
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            out.append(
                IssuedCertificate(
                    Identity.from_certificate(cert),
                    cert.serial_number,
                    cert.not_valid_before_utc,
                    cert.not_valid_after_utc,
                    cert.serial_number in revoked,
                )
            )
        return sorted(out, key=lambda c: (c.not_before, c.serial))

    def revoke(
        self, cert_pem: bytes, *, reason: str = "keyCompromise", now: dt.datetime | None = None
    ) -> None:
        """Add a certificate of this CA to the revocation list and re-sign crl.pem."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        try:
            cert.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise PkiError(f"certificate {cert.serial_number:x} was not issued by this CA: {exc}") from exc
        self._revoke_serials([cert.serial_number], reason=reason, now=now)

    def revoke_identity(
        self, identity: Identity, *, reason: str = "keyCompromise", now: dt.datetime | None = None
    ) -> list[int]:
        """Revoke every unrevoked certificate issued to `identity`; return their serial numbers."""
        serials = [c.serial for c in self.issued() if c.identity == identity and not c.revoked]
        if not serials:
            raise PkiError(f"no unrevoked certificate of {identity} was issued by this CA")
        self._revoke_serials(serials, reason=reason, now=now)
        return serials

    def refresh_crl(self, *, days: int = CRL_DAYS, now: dt.datetime | None = None) -> None:
        """Re-sign the revocation list with its current entries and a new validity period."""
        self._write_crl(list(self._revoked_entries().values()), days=days, now=as_utc(now))

    def _revoke_serials(self, serials: list[int], *, reason: str, now: dt.datetime | None) -> None:
        now = as_utc(now)
        flag = x509.ReasonFlags(reason)
        entries = self._revoked_entries()
        for serial in serials:
            if serial not in entries:
                entries[serial] = (
                    x509.RevokedCertificateBuilder()
                    .serial_number(serial)
                    .revocation_date(now)
                    .add_extension(x509.CRLReason(flag), critical=False)
                    .build()
                )
        self._write_crl(list(entries.values()), days=CRL_DAYS, now=now)

    def _revoked_entries(self) -> dict[int, x509.RevokedCertificate]:
        if not self.crl_path.exists():
            return {}
        crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        if not crl.is_signature_valid(self.certificate.public_key()):
            raise PkiError(f"{self.crl_path} is not signed by this CA: refusing to extend it")
        return {entry.serial_number: entry for entry in crl}

    def _write_crl(self, entries: list[x509.RevokedCertificate], *, days: int, now: dt.datetime) -> None:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
        )
        for entry in entries:
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(self._key, hashes.SHA256())
        write_file(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
