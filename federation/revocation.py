"""Certificate revocation checks for servers (gRPC Python has no CRL option, so the server checks itself).

The CRL file is verified against the CA on every load and reloaded when the file changes on disk. A CRL
that is missing, not signed by the CA or past its next-update fails closed: every check raises.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from federation.pki import CertificateRevoked, PkiError, as_utc


class RevocationListInvalid(PkiError):
    """The revocation list cannot be trusted (missing, unreadable, wrong signer, stale): checks fail closed."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"revocation list {path} unusable: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class RevocationList:
    """A parsed CRL whose signature was verified against the CA."""

    revoked: dict[int, dt.datetime]
    last_update: dt.datetime
    next_update: dt.datetime | None

    @classmethod
    def from_pem(cls, pem: bytes, ca: x509.Certificate, *, source: Path = Path("<memory>")) -> RevocationList:
        """Parse and verify a PEM CRL; raise `RevocationListInvalid` on a bad signature or issuer."""
        try:
            crl = x509.load_pem_x509_crl(pem)
        except ValueError as exc:
            raise RevocationListInvalid(source, f"not a PEM CRL ({exc})") from exc
        if crl.issuer != ca.subject:
            raise RevocationListInvalid(source, f"issued by {crl.issuer.rfc4514_string()}, not the CA")
        if not crl.is_signature_valid(ca.public_key()):
            raise RevocationListInvalid(source, "signature does not verify against the CA key")
        return cls(
            {entry.serial_number: entry.revocation_date_utc for entry in crl},
            crl.last_update_utc,
            crl.next_update_utc,
        )

    def check(self, cert: x509.Certificate, *, subject: str = "", now: dt.datetime | None = None) -> None:
        """Raise `CertificateRevoked` if the certificate is listed, `RevocationListInvalid` if the list is stale."""
        now = as_utc(now)
        if self.next_update is not None and now > self.next_update:
            raise RevocationListInvalid(
                Path("<crl>"), f"stale since {self.next_update.isoformat()}: re-sign it with `xyd pki crl`"
            )
        revoked_at = self.revoked.get(cert.serial_number)
        if revoked_at is not None:
            raise CertificateRevoked(subject or cert.subject.rfc4514_string(), cert.serial_number, revoked_at)


class RevocationWatcher:
    """The current CRL of a file, reloaded (and re-verified) whenever the file's stat changes."""

    def __init__(self, path: Path, ca: x509.Certificate) -> None:
        self.path = Path(path)
        self._ca = ca
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._current: RevocationList | RevocationListInvalid | None = None

    def current(self) -> RevocationList:
        """The verified CRL now on disk; raises `RevocationListInvalid` while the file is unusable."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError as exc:
            raise RevocationListInvalid(self.path, f"cannot read it ({exc.strerror})") from exc
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._current = RevocationList.from_pem(
                        self.path.read_bytes(), self._ca, source=self.path
                    )
                except RevocationListInvalid as exc:
                    self._current = exc
                except OSError as exc:
                    self._current = RevocationListInvalid(self.path, f"cannot read it ({exc.strerror})")
                self._stamp = stamp
            result = self._current
        if isinstance(result, RevocationListInvalid):
            raise result
        assert result is not None
        return result

    def check(self, cert: x509.Certificate, *, subject: str = "", now: dt.datetime | None = None) -> None:
        """Raise unless the certificate is absent from a valid, current CRL."""
        crl = self.current()
        try:
            crl.check(cert, subject=subject, now=now)
        except RevocationListInvalid as exc:
            raise RevocationListInvalid(self.path, exc.reason) from None
