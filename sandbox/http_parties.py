"""The people around a local platform, for the demo and the tests: a bank onboarded on the API with a profile
for `xyd bank`, an enterprise with a certificate of the local enterprise CA and a profile for `xyd enterprise`.
Each writes only files a real party would hold; the platform learns what it would learn in production."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from consent.enterprise import LocalEnterpriseCA
from federation.pki import CertificateAuthority, Identity, node_directory

REPO = Path(__file__).resolve().parent.parent


def onboard(platform_config: Path, identity: str, role: str, *, name: str | None = None,
            rate_per_s: float | None = None) -> str:
    """Add an institution through `xyd institution add` (in this process, on the platform's database) and
    return its API key; `rate_per_s` overrides the default request rate (burst twice that)."""
    from platform_node.api.cli import main

    kind, slug = identity.split("/")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["institution", "add", "--config", str(platform_config), "--kind", kind, "--slug", slug,
                     "--name", name or identity, "--role", role,
                     *([] if rate_per_s is None else ["--rate", str(rate_per_s), "--burst", str(int(2 * rate_per_s))])])
    if code != 0:
        raise RuntimeError(f"could not onboard {identity}")
    return json.loads(out.getvalue().strip().splitlines()[-1])["api_key"]


@dataclass(frozen=True)
class BankParty:
    identity: str
    api_key: str
    profile: Path


def bank_party(folder: Path, *, api_url: str, platform_config: Path, pki_dir: Path, name: str,
               api_key: str | None = None) -> BankParty:
    """A bank: onboarded with an API key (or the one it has), its certificate from the federation CA, a
    profile for `xyd bank`."""
    identity = Identity("bank", name)
    if not (node_directory(pki_dir, identity) / "cert.pem").exists():
        CertificateAuthority.load(pki_dir).issue(identity)
    tls = node_directory(pki_dir, identity)
    folder.mkdir(parents=True, exist_ok=True)
    key = api_key or onboard(platform_config, identity.party, "bank")
    (folder / "bank.apikey").write_text(key + "\n", encoding="utf-8")
    (folder / "bank.apikey").chmod(0o600)
    profile = folder / "bank.toml"
    profile.write_text("\n".join([
        f'api = "{api_url}"', 'api_key_file = "bank.apikey"', 'keys_dir = "keys"', "", "[tls]",
        f'ca = "{tls / "ca.pem"}"', f'cert = "{tls / "cert.pem"}"', f'key = "{tls / "key.pem"}"',
        f'crl = "{pki_dir / "crl.pem"}"', ""]), encoding="utf-8")
    return BankParty(identity.party, key, profile)


@dataclass(frozen=True)
class EnterpriseParty:
    credit_code: str
    profile: Path
    certificate: Path
    certificate_key: Path


def enterprise_party(folder: Path, *, api_url: str, ca_dir: Path, credit_code: str, name: str) -> EnterpriseParty:
    """An enterprise: a certificate of the local enterprise CA, and its own key and profile made by
    `xyd enterprise init` (the private key is created in `folder`, nowhere else)."""
    LocalEnterpriseCA.load(ca_dir).issue(credit_code, name)
    issued = ca_dir / "enterprises" / credit_code
    folder.mkdir(parents=True, exist_ok=True)
    profile = folder / "enterprise.toml"
    xyd("enterprise", "init", "--profile", str(profile), "--api", api_url, "--credit-code", credit_code)
    return EnterpriseParty(credit_code, profile, issued / "cert.pem", issued / "key.pem")


def xyd(*argv: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run `xyd ...` as its own process (as the bank or the enterprise would)."""
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"xyd {' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done
