"""`xyd pki ...`: create the federation CA, issue and revoke node certificates, re-sign and show the CRL.

The CA key's passphrase, if any, comes from `--passphrase-file` (its first line) or the environment variable
`XYD_CA_PASSPHRASE`; `init` with one stores the key encrypted. `show` never needs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from cryptography import x509

from federation.pki import CRL_DAYS, CertificateAuthority, Identity, PkiError, node_directory, utcnow

PASSPHRASE_ENV = "XYD_CA_PASSPHRASE"


def _with_passphrase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--passphrase-file", type=Path,
                        help=f"file whose first line is the CA key's passphrase (else ${PASSPHRASE_ENV})")


def ca_passphrase(args: argparse.Namespace, env: dict[str, str] | None = None) -> bytes | None:
    """The passphrase from `--passphrase-file` or $XYD_CA_PASSPHRASE; None if neither is set."""
    if args.passphrase_file is not None:
        try:
            lines = args.passphrase_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise PkiError(f"cannot read the passphrase file: {exc}") from exc
        if not lines or not lines[0]:
            raise PkiError(f"{args.passphrase_file} holds no passphrase on its first line")
        return lines[0].encode()
    value = (os.environ if env is None else env).get(PASSPHRASE_ENV, "")
    return value.encode() if value else None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pki init|issue|revoke|crl|show` to the `xyd` parser."""
    pki = subparsers.add_parser("pki", help="private CA: node certificates and revocation")
    actions = pki.add_subparsers(dest="pki_action", metavar="ACTION")
    actions.required = True

    init = actions.add_parser("init", help="create a CA (ECDSA P-256) and optionally issue node certificates")
    init.add_argument("--dir", type=Path, required=True, help="CA directory (must not hold a CA yet)")
    init.add_argument(
        "--nodes", default="", help="comma-separated ROLE/NAME list, e.g. source/tax,platform/main"
    )
    init.add_argument("--days", type=int, default=3650, help="CA validity in days")
    init.add_argument("--node-days", type=int, default=365, help="validity of the node certificates")
    _with_passphrase(init)
    init.set_defaults(func=run_init)

    issue = actions.add_parser("issue", help="issue a certificate for ROLE/NAME under nodes/ROLE-NAME/")
    issue.add_argument("--dir", type=Path, required=True)
    issue.add_argument("identity", help="ROLE/NAME, e.g. source/tax")
    issue.add_argument("--days", type=int, default=365)
    issue.add_argument("--host", action="append", default=[], help="extra DNS name the node is reached at")
    _with_passphrase(issue)
    issue.set_defaults(func=run_issue)

    revoke = actions.add_parser(
        "revoke", help="revoke every certificate of ROLE/NAME (servers reload crl.pem)"
    )
    revoke.add_argument("--dir", type=Path, required=True)
    revoke.add_argument("identity")
    revoke.add_argument("--reason", default="keyCompromise", help="RFC 5280 reason, e.g. superseded")
    _with_passphrase(revoke)
    revoke.set_defaults(func=run_revoke)

    crl = actions.add_parser("crl", help="re-sign the revocation list before its next-update passes")
    crl.add_argument("--dir", type=Path, required=True)
    crl.add_argument("--days", type=int, default=CRL_DAYS)
    _with_passphrase(crl)
    crl.set_defaults(func=run_crl)

    show = actions.add_parser("show", help="list the CA, the revocation list and every issued certificate")
    show.add_argument("--dir", type=Path, required=True)
    show.set_defaults(func=run_show)


def _fail(exc: Exception) -> int:
    print(f"xyd pki: {exc}", file=sys.stderr)
    return 1


def _parse_nodes(text: str) -> list[Identity]:
    return [Identity.parse(item.strip()) for item in text.split(",") if item.strip()]


def run_init(args: argparse.Namespace) -> int:
    try:
        nodes = _parse_nodes(args.nodes)
        passphrase = ca_passphrase(args)
        ca = CertificateAuthority.create(args.dir, days=args.days, passphrase=passphrase)
        print(f"created CA in {ca.directory} (valid until {ca.certificate.not_valid_after_utc:%Y-%m-%d})")
        if passphrase is None:
            print(f"warning: ca-key.pem is stored unencrypted (mode 0600); give --passphrase-file or "
                  f"${PASSPHRASE_ENV} to encrypt it, and keep the CA off the nodes", file=sys.stderr)
        for identity in nodes:
            ca.issue(identity, days=args.node_days)
            print(f"issued {identity.uri} -> {node_directory(ca.directory, identity)}")
    except (PkiError, ValueError) as exc:
        return _fail(exc)
    return 0


def run_issue(args: argparse.Namespace) -> int:
    try:
        identity = Identity.parse(args.identity)
        tls = CertificateAuthority.load(args.dir, passphrase=ca_passphrase(args)).issue(identity, days=args.days, hosts=tuple(args.host))
    except (PkiError, ValueError) as exc:
        return _fail(exc)
    cert = tls.certificate
    print(
        f"issued {identity.uri} serial {cert.serial_number:x} valid until {cert.not_valid_after_utc:%Y-%m-%d}"
    )
    print(f"files: {node_directory(args.dir, identity)}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    try:
        serials = CertificateAuthority.load(args.dir, passphrase=ca_passphrase(args)).revoke_identity(
            Identity.parse(args.identity), reason=args.reason
        )
    except (PkiError, ValueError) as exc:
        return _fail(exc)
    print(f"revoked {len(serials)} certificate(s) of {args.identity}: {', '.join(f'{s:x}' for s in serials)}")
    return 0


def run_crl(args: argparse.Namespace) -> int:
    try:
        ca = CertificateAuthority.load(args.dir, passphrase=ca_passphrase(args))
        ca.refresh_crl(days=args.days)
    except (PkiError, ValueError) as exc:
        return _fail(exc)
    print(f"re-signed {ca.crl_path}, valid for {args.days} days")
    return 0


def run_show(args: argparse.Namespace, *, now: dt.datetime | None = None) -> int:
    try:
        ca = CertificateAuthority.open_read_only(args.dir)
        issued = ca.issued()
    except (PkiError, ValueError) as exc:
        return _fail(exc)
    now = now or utcnow()
    print(
        f"CA       {ca.certificate.subject.rfc4514_string()}  until {ca.certificate.not_valid_after_utc:%Y-%m-%d}"
    )
    crl = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    next_update = crl.next_update_utc
    stale = " STALE: run `xyd pki crl`" if next_update is not None and next_update < now else ""
    print(f"CRL      {sum(1 for _ in crl)} revoked, next update {next_update:%Y-%m-%d}{stale}")
    print(f"{'identity':<34} {'serial':<16} {'not after':<10}  status")
    for cert in issued:
        status = "revoked" if cert.revoked else ("expired" if cert.not_after < now else "valid")
        serial = f"{cert.serial:x}"[:16]
        print(f"{cert.identity.party:<34} {serial:<16} {cert.not_after:%Y-%m-%d}  {status}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m cli.pki_commands ACTION ...`: `xyd pki ACTION ...` without loading every role's commands
    first (seconds per call on a busy machine; the container's provisioning step issues one per node)."""
    parser = argparse.ArgumentParser(prog="python -m cli.pki_commands")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pki", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
