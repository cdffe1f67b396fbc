"""The enterprise's side of the platform API: its key file, its profile, and an HTTP client that signs every
request with that key (`consent.enterprise.request_auth`).

The private key is created here and stays in the key file (0600, optionally encrypted under a passphrase);
what goes to the platform is the public key, identity proofs and signatures. The profile (TOML) names the
platform's URL, the enterprise's credit code, the key file and the platform identity proofs must name:

    api = "https://xyd.example/"
    credit_code = "91330105MARQ283F4K"
    key_file = "enterprise.key"        # relative to the profile
    audience = "platform/main"
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.authorisation import Terms, sign_terms
from consent.authorisation.codec import b64encode
from consent.authorisation.terms import SignatoryRole
from consent.credit_code import InvalidCreditCode, validate_credit_code
from consent.enterprise import KeyStatement, ProofPurpose, certificate_proof, prove_possession, sign_request
from consent.enterprise.declarations import Declaration, Visibility, sign_declaration
from consent.enterprise.instructions import Action, sign_instruction
from errors import ConfigurationError, InvalidInput, XydError


class EnterpriseApiError(XydError):
    """The platform refused a request: its HTTP status and public code and message."""

    detail_is_public = True

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", code=code)
        self.status, self.message = status, message


def utc_now() -> datetime:
    return datetime.now(UTC)


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (refusing to overwrite) and write `data`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def key_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The enterprise's key from its file; a wrong passphrase or another key type is a configuration error."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the key in {path}: wrong passphrase or not a PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} does not hold an Ed25519 key")
    return key


def replace_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None = None) -> None:
    """Write `key` over the key file atomically (the old key is gone: it can no longer sign anyway)."""
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    write_private(temporary, key_pem(key, passphrase))
    os.replace(temporary, path)


@dataclass(frozen=True)
class Profile:
    """Where the enterprise's platform is, who the enterprise is, where its key is."""

    path: Path
    api: str
    credit_code: str
    key_file: Path
    audience: str = "platform/main"

    @classmethod
    def load(cls, path: Path) -> Profile:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigurationError(f"no enterprise profile at {path}: run `xyd enterprise init`") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
        unknown = set(raw) - {"api", "credit_code", "key_file", "audience"}
        if unknown or not {"api", "credit_code", "key_file"} <= set(raw):
            raise ConfigurationError(f"{path}: needs api, credit_code, key_file (and optionally audience)")
        key_file = Path(raw["key_file"])
        return cls(path, str(raw["api"]), str(raw["credit_code"]),
                   key_file if key_file.is_absolute() else path.parent / key_file,
                   str(raw.get("audience", "platform/main")))

    def write(self) -> None:
        key_file = os.path.relpath(self.key_file, self.path.parent) if self.key_file.is_absolute() else self.key_file
        self.path.write_text(f'api = "{self.api}"\ncredit_code = "{self.credit_code}"\nkey_file = "{key_file}"\n'
                             f'audience = "{self.audience}"\n', encoding="utf-8")


def init_profile(path: Path, *, api: str, credit_code: str, key_file: Path | None = None,
                 audience: str = "platform/main", passphrase: bytes | None = None) -> Profile:
    """Create the enterprise's signing key (in a new 0600 file) and its profile."""
    try:
        validate_credit_code(credit_code)
    except InvalidCreditCode as exc:
        raise InvalidInput(f"credit code: {exc.public_reason}") from None
    if urlsplit(api).scheme not in ("http", "https"):
        raise InvalidInput("the API address must be an http(s) URL")
    key_file = key_file or path.with_suffix(".key")
    if key_file.exists():
        raise InvalidInput(f"{key_file} exists already: a key file is never overwritten by init")
    write_private(key_file, key_pem(Ed25519PrivateKey.generate(), passphrase))
    profile = Profile(path, api.rstrip("/"), credit_code, key_file.resolve(), audience)
    profile.write()
    return Profile.load(path)


class EnterpriseClient:
    """Signs and sends the enterprise's requests; raises `EnterpriseApiError` on any refusal."""

    def __init__(self, profile: Profile, *, key: Ed25519PrivateKey, timeout: float = 20.0,
                 clock=utc_now) -> None:
        self.profile, self.key, self._clock = profile, key, clock
        self._http = httpx.Client(base_url=profile.api, timeout=timeout)
        self._prefix = urlsplit(profile.api).path.rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EnterpriseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None, signed: bool = True,
             key: Ed25519PrivateKey | None = None) -> Any:
        """One request (signed with the profile's key, or `key`); the decoded JSON answer."""
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            headers.update(sign_request(key or self.key, credit_code=self.profile.credit_code, method=method,
                                        path=self._prefix + path, query=query, body=data, now=self._clock()))
        response = self._http.request(method, path + (f"?{query}" if query else ""), content=data or None,
                                      headers=headers)
        return answer(response)

    # -- keys --------------------------------------------------------------------------------------------

    def statement(self, purpose: ProofPurpose, key: Ed25519PrivateKey, *, signatory: str,
                  role: SignatoryRole) -> KeyStatement:
        return KeyStatement.new(purpose=purpose, audience=self.profile.audience, credit_code=self.profile.credit_code,
                                signatory=signatory, signatory_role=role, enterprise_key=key.public_key(),
                                now=self._clock())

    def sign_up(self, *, certificate_pem: bytes, certificate_key_pem: bytes, signatory: str,
                role: SignatoryRole = SignatoryRole.LEGAL_REPRESENTATIVE) -> Any:
        """Prove who the enterprise is with its certificate and bind the profile's key."""
        statement = self.statement(ProofPurpose.SIGN_UP, self.key, signatory=signatory, role=role)
        proof = certificate_proof(statement, certificate_pem=certificate_pem, certificate_key_pem=certificate_key_pem,
                                  enterprise_key=self.key)
        return self.call("POST", "/v1/enterprise-accounts", body={"proof": proof.to_json()}, signed=False)

    def recover(self, new_key: Ed25519PrivateKey, *, certificate_pem: bytes, certificate_key_pem: bytes,
                signatory: str, revoked_from: datetime,
                role: SignatoryRole = SignatoryRole.LEGAL_REPRESENTATIVE) -> Any:
        """A fresh identity proof binding `new_key`; earlier keys are revoked from `revoked_from`."""
        statement = self.statement(ProofPurpose.RECOVER, new_key, signatory=signatory, role=role)
        proof = certificate_proof(statement, certificate_pem=certificate_pem, certificate_key_pem=certificate_key_pem,
                                  enterprise_key=new_key)
        return self.call("POST", "/v1/enterprise-accounts/recovery", signed=False,
                         body={"proof": proof.to_json(), "revoked_from": revoked_from.astimezone(UTC).isoformat()})

    def rotate(self, new_key: Ed25519PrivateKey, *, signatory: str,
               role: SignatoryRole = SignatoryRole.LEGAL_REPRESENTATIVE) -> Any:
        """Signed with the current key: bind `new_key`, which proves possession."""
        statement = self.statement(ProofPurpose.ROTATE, new_key, signatory=signatory, role=role)
        return self.call("POST", "/v1/enterprise/keys/rotation",
                         body={"statement": b64encode(statement.to_bytes()),
                               "key_signature": b64encode(prove_possession(statement, new_key))})

    def account(self) -> Any:
        return self.call("GET", "/v1/enterprise/account")

    # -- consent -----------------------------------------------------------------------------------------

    def requests(self, status: str | None = None) -> Any:
        return self.call("GET", "/v1/enterprise/consent-requests", params={"status": status})["items"]

    def request(self, request_id: str) -> Any:
        return self.call("GET", f"/v1/enterprise/consent-requests/{request_id}")

    def approve(self, request_id: str, *, terms: Mapping[str, Any] | None = None) -> Any:
        """Sign the request's terms with the enterprise's key and submit them. `terms` (as shown earlier) are
        what the enterprise agreed to; if the platform now shows other terms, nothing is signed."""
        shown = self.request(request_id)
        if shown["terms"] is None:
            raise EnterpriseApiError(409, "REQUEST_NOT_PENDING", "the consent request is no longer pending")
        if terms is not None and dict(terms) != shown["terms"]:
            raise EnterpriseApiError(409, "TERMS_CHANGED", "the terms differ from those agreed to; nothing signed")
        parsed = Terms.from_json(shown["terms"])  # recomputes the id from the terms themselves
        artefact = sign_terms(parsed, self.key, signed_at=self._clock())
        return self.call("POST", f"/v1/enterprise/consent-requests/{request_id}/approval",
                         body={"artefact": artefact.to_json()})

    def instruction(self, action: Action, target: str) -> dict[str, str]:
        return sign_instruction(action, target, credit_code=self.profile.credit_code, key=self.key,
                                now=self._clock()).to_json()

    def decline(self, request_id: str) -> Any:
        return self.call("POST", f"/v1/enterprise/consent-requests/{request_id}/decline",
                         body={"instruction": self.instruction(Action.DECLINE, request_id)})

    def consents(self) -> Any:
        return self.call("GET", "/v1/enterprise/consents")["items"]

    def change(self, authorisation_id: str, action: Action) -> Any:
        """Pause, resume or revoke a consent."""
        return self.call("POST", f"/v1/enterprise/consents/{authorisation_id}/{action.value.lower()}",
                         body={"instruction": self.instruction(action, authorisation_id)})

    def uses(self, authorisation_id: str) -> Any:
        return self.call("GET", f"/v1/enterprise/consents/{authorisation_id}/uses")

    # -- self-declared information -------------------------------------------------------------------------

    def commitment(self) -> Any:
        return self.call("GET", "/v1/enterprise/declarations/commitment")

    def declarations(self) -> Any:
        return self.call("GET", "/v1/enterprise/declarations")["items"]

    def declare(self, declaration: Declaration, *, visibility: Visibility, signatory: str,
                role: SignatoryRole = SignatoryRole.LEGAL_REPRESENTATIVE,
                commitment: Mapping[str, Any] | None = None) -> Any:
        """Sign the declaration with the platform's credit commitment (as shown: `commitment`, else fetched) as
        the next version, superseding the current one, and submit it."""
        shown = commitment or self.commitment()
        history = self.declarations()
        latest = history[-1] if history else None
        signed = sign_declaration(
            declaration, credit_code=self.profile.credit_code, key=self.key, signatory=signatory,
            signatory_role=role, version=1 if latest is None else latest["version"] + 1,
            supersedes=latest["declaration_id"] if latest and latest["status"] == "CURRENT" else None,
            visibility=visibility, now=self._clock(), commitment=(shown["version"], shown["text"]))
        return self.call("POST", "/v1/enterprise/declarations", body={"declaration": signed.to_json()})

    def withdraw_declaration(self, declaration_id: str) -> Any:
        return self.call("POST", f"/v1/enterprise/declarations/{declaration_id}/withdraw",
                         body={"instruction": self.instruction(Action.WITHDRAW, declaration_id)})


def answer(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer, else `EnterpriseApiError` with the platform's code and message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    if isinstance(body, dict) and "code" in body:
        raise EnterpriseApiError(response.status_code, str(body["code"]), str(body.get("message", "")))
    raise EnterpriseApiError(response.status_code, f"HTTP_{response.status_code}", "the platform refused the request")
