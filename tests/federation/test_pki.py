"""The private PKI: identities, certificate contents, expiry, key permissions and the signed CRL."""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.pki import (
    ROLES,
    CertificateAuthority,
    CertificateNotValid,
    CertificateRevoked,
    Identity,
    InvalidIdentity,
    KeyMismatch,
    NodeTls,
    PkiError,
    node_directory,
)
from federation.revocation import RevocationList, RevocationListInvalid, RevocationWatcher

TAX = Identity("source", "tax")
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

names = st.from_regex(r"[a-z0-9]{1,8}([_-][a-z0-9]{1,8}){0,3}", fullmatch=True)


@pytest.fixture()
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "pki")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@settings(max_examples=50, deadline=None)
@given(role=st.sampled_from(sorted(ROLES)), name=names)
def test_identity_round_trips_through_party_and_uri(role: str, name: str) -> None:
    identity = Identity(role, name)
    assert Identity.parse(identity.party) == identity
    assert Identity.parse(identity.uri) == identity
    assert identity.uri == f"spiffe://xyd/{role}/{name}"
    assert identity.dns_name == f"{name}.{role}.xyd"


@pytest.mark.parametrize(
    "text",
    [
        "source",
        "source/tax/x",
        "robot/tax",
        "source/Tax",
        "source/-tax",
        "source/tax-",
        "source/a__b",
        "source/",
        "spiffe://other/source/tax",
        "source/" + "a" * 64,
        "source/tax.evil",
    ],
)
def test_invalid_identities_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentity):
        Identity.parse(text)


def test_node_certificate_names_identity_in_uri_and_dns_sans(ca: CertificateAuthority) -> None:
    tls = ca.issue(Identity("source", "social_insurance"), now=NOW, days=30)
    cert = tls.certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://xyd/source/social_insurance"]
    assert "social_insurance.source.xyd" in san.get_values_for_type(x509.DNSName)
    assert Identity.from_certificate(cert) == Identity("source", "social_insurance")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30, minutes=5)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(eku)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca.certificate)


def test_keys_are_written_0600_and_directories_0700(ca: CertificateAuthority) -> None:
    ca.issue(TAX)
    node = node_directory(ca.directory, TAX)
    assert _mode(ca.directory / "ca-key.pem") == 0o600
    assert _mode(node / "key.pem") == 0o600
    assert _mode(node) == 0o700 and _mode(ca.directory) == 0o700
    assert _mode(node / "cert.pem") == 0o644


def test_creating_a_ca_over_an_existing_one_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(PkiError, match="already holds a CA"):
        CertificateAuthority.create(ca.directory)


def test_node_tls_load_honours_expiry(ca: CertificateAuthority) -> None:
    ca.issue(TAX, now=NOW, days=10)
    loaded = NodeTls.load_issued(ca.directory, TAX, now=NOW + dt.timedelta(days=9))
    assert loaded.identity == TAX and loaded.crl_path == ca.crl_path
    with pytest.raises(CertificateNotValid, match="expired"):
        NodeTls.load_issued(ca.directory, TAX, now=NOW + dt.timedelta(days=11))
    with pytest.raises(CertificateNotValid, match="not yet valid"):
        NodeTls.load_issued(ca.directory, TAX, now=NOW - dt.timedelta(days=1))


def test_node_tls_load_refuses_a_foreign_key_or_foreign_ca(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.issue(TAX)
    ca.issue(Identity("source", "court"))
    node, other = node_directory(ca.directory, TAX), node_directory(ca.directory, Identity("source", "court"))
    with pytest.raises(KeyMismatch):
        NodeTls.load(node / "ca.pem", node / "cert.pem", other / "key.pem")
    stranger = CertificateAuthority.create(tmp_path / "stranger")
    with pytest.raises(PkiError, match="not issued by the CA"):
        NodeTls.load(stranger.directory / "ca.pem", node / "cert.pem", node / "key.pem")


def test_crl_lists_revoked_serials_and_is_signed_by_the_ca(ca: CertificateAuthority) -> None:
    revoked, kept = ca.issue(TAX), ca.issue(Identity("source", "court"))
    ca.revoke(revoked.cert_pem, now=NOW)
    crl = RevocationList.from_pem(ca.crl_path.read_bytes(), ca.certificate)
    with pytest.raises(CertificateRevoked) as info:
        crl.check(revoked.certificate, now=NOW)
    assert info.value.serial == revoked.certificate.serial_number
    crl.check(kept.certificate, now=NOW)
    raw = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert raw.is_signature_valid(ca.certificate.public_key())
    status = {c.serial: c.revoked for c in ca.issued()}
    assert status == {revoked.certificate.serial_number: True, kept.certificate.serial_number: False}


def test_crl_from_another_ca_or_tampered_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "stranger", common_name="stranger CA")
    with pytest.raises(RevocationListInvalid, match="not the CA"):
        RevocationList.from_pem(stranger.crl_path.read_bytes(), ca.certificate)
    # Same issuer name, other key: only the signature check can tell.
    twin = CertificateAuthority.create(tmp_path / "twin", common_name="xyd federation CA")
    with pytest.raises(RevocationListInvalid, match="signature"):
        RevocationList.from_pem(twin.crl_path.read_bytes(), ca.certificate)
    with pytest.raises(RevocationListInvalid, match="not a PEM CRL"):
        RevocationList.from_pem(b"garbage", ca.certificate)


def test_stale_crl_fails_closed(ca: CertificateAuthority) -> None:
    tls = ca.issue(TAX, now=NOW)
    ca.refresh_crl(now=NOW, days=1)
    crl = RevocationList.from_pem(ca.crl_path.read_bytes(), ca.certificate)
    crl.check(tls.certificate, now=NOW)
    with pytest.raises(RevocationListInvalid, match="stale"):
        crl.check(tls.certificate, now=NOW + dt.timedelta(days=2))


def test_watcher_reloads_the_crl_when_the_file_changes(ca: CertificateAuthority) -> None:
    tls = ca.issue(TAX)
    watcher = RevocationWatcher(ca.crl_path, ca.certificate)
    watcher.check(tls.certificate)
    time.sleep(0.01)  # a distinct mtime_ns even on coarse file systems
    ca.revoke_identity(TAX)
    with pytest.raises(CertificateRevoked):
        watcher.check(tls.certificate)
    ca.crl_path.write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    with pytest.raises(RevocationListInvalid):
        watcher.check(tls.certificate)
    ca.crl_path.unlink()
    with pytest.raises(RevocationListInvalid, match="cannot read"):
        watcher.check(tls.certificate)


def test_revoke_identity_revokes_every_certificate_of_it_and_reissue_is_valid(
    ca: CertificateAuthority,
) -> None:
    first, second = ca.issue(TAX), ca.issue(TAX)
    assert sorted(ca.revoke_identity(TAX)) == sorted(
        [first.certificate.serial_number, second.certificate.serial_number]
    )
    with pytest.raises(PkiError, match="no unrevoked"):
        ca.revoke_identity(TAX)
    fresh = ca.issue(TAX)
    crl = RevocationList.from_pem(ca.crl_path.read_bytes(), ca.certificate)
    crl.check(fresh.certificate)
    for old in (first, second):
        with pytest.raises(CertificateRevoked):
            crl.check(old.certificate)


def test_revoking_a_certificate_of_another_ca_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "stranger").issue(TAX)
    with pytest.raises(PkiError, match="not issued by this CA"):
        ca.revoke(stranger.cert_pem)


def test_ca_reloads_from_its_directory(ca: CertificateAuthority) -> None:
    again = CertificateAuthority.load(ca.directory)
    tls = again.issue(TAX)
    tls.certificate.verify_directly_issued_by(ca.certificate)
    with pytest.raises(PkiError, match="holds no CA"):
        CertificateAuthority.load(ca.directory / "nodes")


def _self_signed(san: x509.SubjectAlternativeName | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "source/tax")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("uris", "problem"),
    [
        (None, "no subject alternative name"),
        ([], "exactly one"),
        (["spiffe://xyd/source/tax", "spiffe://xyd/source/court"], "exactly one"),
        (["spiffe://evil/source/tax"], "trust domain"),
        (["spiffe://xyd/source/tax/extra"], "role/name"),
    ],
)
def test_identity_is_read_only_from_one_spiffe_uri_of_the_xyd_domain(
    uris: list[str] | None, problem: str
) -> None:
    san = None
    if uris is not None:
        san = x509.SubjectAlternativeName(
            [x509.DNSName("tax.source.xyd"), *[x509.UniformResourceIdentifier(u) for u in uris]]
        )
    with pytest.raises(InvalidIdentity, match=problem):
        Identity.from_certificate(_self_signed(san))


def test_a_ca_opened_read_only_lists_but_cannot_sign(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", passphrase=b"s3cret")
    ca.issue(Identity("source", "tax"))
    reader = CertificateAuthority.open_read_only(tmp_path / "ca")
    assert [c.identity.party for c in reader.issued()] == ["source/tax"]
    with pytest.raises(PkiError, match="read-only"):
        reader.issue(Identity("source", "court"))
    with pytest.raises(PkiError, match="empty passphrase"):
        CertificateAuthority.create(tmp_path / "other", passphrase=b"")


def test_a_ca_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    CertificateAuthority.create(tmp_path / "a")
    CertificateAuthority.create(tmp_path / "b")
    (tmp_path / "a" / "ca-key.pem").write_bytes((tmp_path / "b" / "ca-key.pem").read_bytes())
    with pytest.raises(KeyMismatch):
        CertificateAuthority.load(tmp_path / "a")
