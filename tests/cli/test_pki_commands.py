"""`xyd pki` subcommands, driven through an argparse parser built by `register`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cryptography import x509

from cli import pki_commands as pki_cli
from federation.pki import CertificateAuthority, Identity, NodeTls
from federation.revocation import RevocationList


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="xyd")
    pki_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_init_issue_revoke_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    assert _run("pki", "init", "--dir", str(pki), "--nodes", "source/tax, platform/main") == 0
    for party in ("source/tax", "platform/main"):
        assert NodeTls.load_issued(pki, Identity.parse(party)).identity.party == party
    assert (
        _run(
            "pki", "issue", "--dir", str(pki), "source/social_insurance", "--days", "30", "--host", "si.local"
        )
        == 0
    )
    si = NodeTls.load_issued(pki, Identity("source", "social_insurance"))
    san = si.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "si.local" in san.get_values_for_type(x509.DNSName)
    assert _run("pki", "revoke", "--dir", str(pki), "source/tax") == 0
    ca = CertificateAuthority.load(pki)
    crl = RevocationList.from_pem(ca.crl_path.read_bytes(), ca.certificate)
    tax = NodeTls.load_issued(pki, Identity("source", "tax"))
    assert tax.certificate.serial_number in crl.revoked
    capsys.readouterr()
    assert _run("pki", "show", "--dir", str(pki)) == 0
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[3:]}
    assert rows == {"source/tax": "revoked", "platform/main": "valid", "source/social_insurance": "valid"}


def test_errors_are_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    assert _run("pki", "issue", "--dir", str(pki), "source/tax") == 1
    assert "holds no CA" in capsys.readouterr().err
    assert _run("pki", "init", "--dir", str(pki), "--nodes", "robot/x") == 1
    assert "unknown role" in capsys.readouterr().err
    assert not (pki / "ca-key.pem").exists(), "a bad --nodes list must not leave a half-made CA"
    assert _run("pki", "init", "--dir", str(pki)) == 0
    assert _run("pki", "init", "--dir", str(pki)) == 1
    assert "already holds a CA" in capsys.readouterr().err
    assert _run("pki", "revoke", "--dir", str(pki), "source/tax") == 1
    assert _run("pki", "crl", "--dir", str(pki), "--days", "7") == 0


def test_an_encrypted_ca_key_needs_its_passphrase_to_sign_but_not_to_show(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pki, secret = tmp_path / "pki", tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n", encoding="utf-8")
    assert _run("pki", "init", "--dir", str(pki), "--nodes", "source/tax", "--passphrase-file", str(secret)) == 0
    assert "unencrypted" not in capsys.readouterr().err
    key_file = (pki / "ca-key.pem").read_bytes()
    assert key_file.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert NodeTls.load_issued(pki, Identity("source", "tax")).identity.party == "source/tax"

    assert _run("pki", "issue", "--dir", str(pki), "platform/main") == 1
    assert "is encrypted" in capsys.readouterr().err
    monkeypatch.setenv(pki_cli.PASSPHRASE_ENV, "wrong")
    assert _run("pki", "revoke", "--dir", str(pki), "source/tax") == 1
    assert "wrong passphrase" in capsys.readouterr().err
    monkeypatch.setenv(pki_cli.PASSPHRASE_ENV, "correct horse battery staple")
    assert _run("pki", "issue", "--dir", str(pki), "platform/main") == 0
    assert _run("pki", "revoke", "--dir", str(pki), "source/tax") == 0
    monkeypatch.delenv(pki_cli.PASSPHRASE_ENV)
    assert _run("pki", "crl", "--dir", str(pki), "--passphrase-file", str(secret)) == 0
    capsys.readouterr()
    assert _run("pki", "show", "--dir", str(pki)) == 0  # reading needs no key
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[3:]}
    assert rows == {"source/tax": "revoked", "platform/main": "valid"}
    assert (pki / "ca-key.pem").read_bytes() == key_file  # never rewritten in clear


def test_an_unencrypted_ca_is_created_with_a_warning_and_refuses_a_passphrase(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pki, empty = tmp_path / "pki", tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    assert _run("pki", "init", "--dir", str(pki), "--passphrase-file", str(empty)) == 1
    assert "no passphrase" in capsys.readouterr().err and not (pki / "ca-key.pem").exists()
    assert _run("pki", "init", "--dir", str(pki)) == 0
    assert "stored unencrypted" in capsys.readouterr().err
    monkeypatch.setenv(pki_cli.PASSPHRASE_ENV, "something")
    assert _run("pki", "issue", "--dir", str(pki), "source/tax") == 1
    assert "not encrypted" in capsys.readouterr().err
