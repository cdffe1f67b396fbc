"""The local enterprise-certificate identity provider: a small CA issues each enterprise an ECDSA P-256
certificate naming its unified social credit code, and the enterprise proves who it is by signing a
`KeyStatement` with that certificate's key.

This stands in, for the demo and the tests, for what a city plugs in (a CA-issued enterprise certificate of
a licensed CA, the national electronic business licence): the platform only sees the `IdentityProvider`
interface. The credit code is carried in the certificate subject's organizationIdentifier (OID 2.5.4.97),
the registered name in its organizationName.

Layout written by `LocalEnterpriseCA`:  ca.pem  ca-key.pem (0600)  enterprises/<credit code>/{cert.pem, key.pem (0600)}
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consent.authorisation.signatures import Domain, signed_message
from consent.authorisation.terms import IdentityCheck
from consent.credit_code import InvalidCreditCode, validate_credit_code
from consent.enterprise.identity import (
    IdentityAssertion,
    IdentityNotProven,
    IdentityProof,
    KeyStatement,
    prove_possession,
)
from errors import ConfigurationError, InvalidInput

PROVIDER_NAME = "local-certificate"
ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class IssuedCertificate:
    """An enterprise's certificate and its private key (which stays with the enterprise)."""

    certificate_pem: bytes
    key_pem: bytes


class LocalEnterpriseCA:
    """A folder-backed CA issuing enterprise certificates (test and demo stand-in for a licensed CA)."""

    def __init__(self, folder: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.folder, self.certificate, self._key = folder, certificate, key

    @classmethod
    def create(cls, folder: Path, *, name: str = "xyd local enterprise CA", days: int = 3650,
               now: dt.datetime | None = None) -> LocalEnterpriseCA:
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write(folder / "ca.pem", certificate.public_bytes(serialization.Encoding.PEM))
        _write(folder / "ca-key.pem", _pem_key(key), private=True)
        return cls(folder, certificate, key)

    @classmethod
    def load(cls, folder: Path) -> LocalEnterpriseCA:
        certificate = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"{folder / 'ca-key.pem'} is not an EC key")
        return cls(folder, certificate, key)

    def issue(self, credit_code: str, name: str, *, days: int = 365, now: dt.datetime | None = None) -> IssuedCertificate:
        """Issue (and write under `enterprises/<code>/`) a certificate naming the enterprise."""
        try:
            validate_credit_code(credit_code)
        except InvalidCreditCode as exc:
            raise InvalidInput(f"credit code: {exc.public_reason}") from None
        if not name.strip():
            raise InvalidInput("the enterprise's name is empty")
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                             x509.NameAttribute(ORGANIZATION_IDENTIFIER, credit_code),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(self.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        issued = IssuedCertificate(certificate.public_bytes(serialization.Encoding.PEM), _pem_key(key))
        folder = self.folder / "enterprises" / credit_code
        _write(folder / "cert.pem", issued.certificate_pem)
        _write(folder / "key.pem", issued.key_pem, private=True)
        return issued


def certificate_proof(statement: KeyStatement, *, certificate_pem: bytes, certificate_key_pem: bytes,
                      enterprise_key) -> IdentityProof:
    """The enterprise's side: sign `statement` with its certificate's key and with the key to be bound."""
    key = serialization.load_pem_private_key(certificate_key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput("the certificate key is not an EC key")
    payload = statement.to_bytes()
    signature = key.sign(signed_message(Domain.IDENTITY_PROOF, payload), ec.ECDSA(hashes.SHA256()))
    return IdentityProof(PROVIDER_NAME, payload, signature, certificate_pem,
                         prove_possession(statement, enterprise_key))


class LocalCertificateProvider:
    """Verifies proofs signed with certificates of one local enterprise CA."""

    def __init__(self, ca_pem: bytes) -> None:
        self._ca = x509.load_pem_x509_certificate(ca_pem)

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    def verify(self, proof: IdentityProof, *, now: dt.datetime) -> IdentityAssertion:
        try:
            certificate = x509.load_pem_x509_certificate(proof.credential)
            certificate.verify_directly_issued_by(self._ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise IdentityNotProven(f"certificate not issued by the enterprise CA: {exc}") from None
        if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
            raise IdentityNotProven("enterprise certificate outside its validity")
        codes = certificate.subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER)
        names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if len(codes) != 1 or len(names) != 1:
            raise IdentityNotProven("certificate names no single enterprise")
        public = certificate.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise IdentityNotProven("certificate key is not an EC key")
        try:
            public.verify(proof.signature, signed_message(Domain.IDENTITY_PROOF, proof.statement),
                          ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise IdentityNotProven("the certificate's key did not sign the statement") from None
        return IdentityAssertion(str(codes[0].value), str(names[0].value), IdentityCheck.CA_CERTIFICATE,
                                 hashlib.sha256(proof.credential).hexdigest())


def provider_from_settings(options: Mapping[str, Any], *, base: Path | None = None) -> LocalCertificateProvider:
    """The `local-certificate` provider from the platform's `[api.enterprise]` options: `certificate_ca`,
    the CA certificate (PEM) whose enterprise certificates it accepts."""
    path = options.get("certificate_ca")
    if not path:
        raise ConfigurationError("the local-certificate identity provider needs certificate_ca (a PEM file)")
    path = Path(str(path))
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return LocalCertificateProvider(path.read_bytes())
    except FileNotFoundError:
        raise ConfigurationError(f"enterprise CA certificate not found: {path}") from None
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a PEM certificate: {exc}") from None
