"""A bank's client of the platform's HTTP API for consent and verification (核验).

The bank asks an enterprise for consent, follows the request, registers its keys, and verifies: it builds and
signs each `VerificationRequest` itself (its request-signing key never leaves it), the platform relays it to
the source node, and the answer comes back signed by the node and sealed to the bank's X25519 key. This client
checks the node's key binding against the federation CA (the platform cannot forge one), opens the answer
(`consent.authorisation.open_answer`: AES-GCM tag, node signature, request id) and can check the audit
receipts against the log's and witnesses' keys, themselves checked against their certificates.

The bank needs: the API's URL and its API key; its application keys (created on first use in a folder of its
own); and its certificate from the federation CA (`xyd pki issue bank/<name>`), used only to sign its key
binding and to check others' bindings, never to connect.

    with BankHttpClient(url, api_key, keys=BankKeys.load_or_create(folder), tls=NodeTls.load(...)) as bank:
        bank.register_keys()
        asked = bank.request_consent(credit_code, ["source/tax:revenue_12m_cny"], purpose="PRE_LOAN_REVIEW",
                                     loan_application_ref="LA-1")
        ...   # the enterprise approves
        [result] = bank.verify(asked["request_id"], [("source/tax", "revenue_12m_cny >= 1000000")])
        result.holds   # True / False / None (no record); result.refusal when refused
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cli.bank_keys import BankKeys, VerificationResult
from consent.audit import CosignatureVerifier, Ed25519Verifier, InclusionReceipt, LogTrust, verify_receipt
from consent.authorisation import (
    MatchCheck,
    Purpose,
    Question,
    RawDetail,
    SealedAnswer,
    SignedTerms,
    VerificationRequest,
    open_answer,
    parse_predicate,
    sign_request,
)
from consent.authorisation.codec import b64decode, b64encode
from consent.authorisation.questions import parse_number
from errors import InvalidInput, XydError
from federation.key_binding import BindingVerifier, KeyPurpose, bind_keys, log_origin
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2

PLATFORM = Identity("platform", "main")
_MATCH = re.compile(r"^\s*(?P<field>[a-z][a-z0-9_]{0,63})\s*~=\s*(?P<declared>\S+)\s*\+-\s*(?P<tolerance>\S+)\s*$")
_RAW = re.compile(r"^\s*raw\s+(?P<field>[a-z][a-z0-9_]{0,63})\s*$")


class BankApiError(XydError):
    """The platform refused a request: its HTTP status and public code and message."""

    detail_is_public = True

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", code=code)
        self.status, self.message = status, message


def parse_check(text: str) -> tuple[str, Question]:
    """`provider:question`, where the question is `field op constant` (a yes/no check), `field ~= declared +-
    tolerance` (a match check) or `raw field` (the value, under QUERY consents). E.g.
    `source/tax:revenue_12m_cny >= 1000000`."""
    provider, sep, question = text.partition(":")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9]*/[a-z0-9][a-z0-9._-]*", provider.strip()):
        raise InvalidInput("a check is provider:question, e.g. source/tax:revenue_12m_cny >= 1000000")
    raw = _RAW.match(question)
    if raw:
        return provider.strip(), RawDetail(raw.group("field"))
    match = _MATCH.match(question)
    if match:
        return provider.strip(), MatchCheck(match.group("field"), parse_number(match.group("declared")),
                                            parse_number(match.group("tolerance")))
    return provider.strip(), parse_predicate(question)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedCheck:
    """A signed verification request and the node it goes to (kept to open the answer)."""

    request_id: str
    provider: str
    payload: bytes
    signature: bytes


class BankHttpClient:
    """Consent requests and verifications over the platform's HTTP API; raises `BankApiError` on refusals."""

    def __init__(self, api_url: str, api_key: str, *, keys: BankKeys, tls: NodeTls, platform: Identity = PLATFORM,
                 timeout: float = 30.0, clock: Callable[[], datetime] = utc_now) -> None:
        if tls.identity.role != "bank":
            raise InvalidInput(f"{tls.identity} is not a bank certificate")
        self.identity = tls.identity.party
        self.keys, self.tls, self.platform, self._clock = keys, tls, platform, clock
        self._bindings = BindingVerifier(tls.ca_pem, tls.crl_path)
        self._http = httpx.Client(base_url=api_url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BankHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=json, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        if isinstance(body, dict) and "code" in body:
            raise BankApiError(response.status_code, str(body["code"]), str(body.get("message", "")))
        raise BankApiError(response.status_code, f"HTTP_{response.status_code}", "the platform refused the request")

    # -- consent -----------------------------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        return self.call("GET", "/v1/consent-catalogue")["items"]

    def request_consent(self, credit_code: str, data_items: Sequence[str], *, purpose: Purpose | str,
                        loan_application_ref: str, **options: Any) -> dict[str, Any]:
        """Ask the enterprise; `options`: mode, valid_days, max_uses, data_range, data_life_days,
        feedback_deadline_days."""
        body = {"credit_code": credit_code, "data_items": list(data_items), "purpose": str(Purpose(purpose)),
                "loan_application_ref": loan_application_ref, **options}
        return self.call("POST", "/v1/consent-requests", json=body)

    def consent_request(self, request_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/consent-requests/{request_id}")

    def report(self, credit_code: str, *, purpose: Purpose | str = Purpose.PRE_LOAN_REVIEW) -> dict[str, Any]:
        """The enterprise's public-information report (`self_declared` apart, flagged)."""
        return self.call("GET", f"/v1/reports/{credit_code}", params={"purpose": str(Purpose(purpose))})

    def declaration(self, credit_code: str, request_id: str) -> dict[str, Any]:
        """Self-declared information under the consent the request `request_id` became."""
        request = self.consent_request(request_id)
        return self.call("GET", f"/v1/declarations/{credit_code}",
                         params={"consent_id": request["authorisation_id"], "purpose": request["purpose"]})

    # -- verification ------------------------------------------------------------------------------------

    def register_keys(self) -> dict[str, Any]:
        """Give the platform this bank's public keys, bound to its certificate (once, and after rotating)."""
        binding = bind_keys(self.tls, self.keys.public_keys(), now=self._clock())
        return self.call("PUT", "/v1/verification-keys", json={"binding": b64encode(binding.SerializeToString())})

    def sign(self, request: dict[str, Any], provider: str, question: Question, *,
             purpose: Purpose | None = None, loan_application_ref: str | None = None,
             rng: Callable[[int], bytes] = os.urandom) -> SignedCheck:
        """A signed request under an approved consent request (purpose and loan reference default to the
        consent's own)."""
        if request.get("authorisation_id") is None:
            raise InvalidInput(f"consent request {request['request_id']} is {request['status']}, not approved")
        artefact = SignedTerms(b64decode(request["artefact"]["payload"]), b64decode(request["artefact"]["signature"]))
        return self.sign_under(artefact, provider, question, purpose=purpose,
                               loan_application_ref=loan_application_ref, rng=rng)

    def sign_under(self, artefact: SignedTerms, provider: str, question: Question | str, *,
                   purpose: Purpose | None = None, loan_application_ref: str | None = None,
                   rng: Callable[[int], bytes] = os.urandom) -> SignedCheck:
        """A signed request under an enterprise-signed artefact the bank holds (purpose and loan reference
        default to the terms')."""
        terms = artefact.terms
        verification = VerificationRequest.new(
            authorisation_id=terms.id, requester=self.identity, provider=provider, purpose=purpose or terms.purpose,
            loan_application_ref=loan_application_ref or terms.loan_application_ref,
            question=parse_predicate(question) if isinstance(question, str) else question, now=self._clock(), rng=rng)
        signed = sign_request(verification, self.keys.signing, artefact=artefact)
        return SignedCheck(signed.request_id, provider, signed.payload, signed.signature)

    def verify_under(self, artefact: SignedTerms, provider: str, question: Question | str) -> VerificationResult:
        """Sign, relay and open one check under an artefact the bank holds."""
        [result] = self.send(artefact.terms.id, [self.sign_under(artefact, provider, question)])
        return result

    def send(self, consent_id: str, checks: Sequence[SignedCheck]) -> list[VerificationResult]:
        """Relay signed checks and open every answer; raises `AnswerRejected` for an answer that was tampered
        with, signed by another key or meant for another request."""
        body = {"consent_id": consent_id,
                "requests": [{"payload": b64encode(c.payload), "signature": b64encode(c.signature)} for c in checks]}
        replies = self.call("POST", "/v1/verifications", json=body)["results"]
        return [self.open(check, reply) for check, reply in zip(checks, replies, strict=True)]

    def verify(self, request_id: str, checks: Sequence[tuple[str, Question | str]]) -> list[VerificationResult]:
        """Sign, relay and open checks under the consent the request `request_id` became."""
        request = self.consent_request(request_id)
        signed = [self.sign(request, provider, parse_predicate(q) if isinstance(q, str) else q)
                  for provider, q in checks]
        return self.send(request["authorisation_id"], signed)

    def open(self, check: SignedCheck, reply: dict[str, Any]) -> VerificationResult:
        receipts = tuple(reply["receipts"])
        if reply["status"] != "ANSWERED":
            return VerificationResult(check.request_id, None, reply["refusal"], receipts)
        binding = verification_pb2.KeyBinding()
        binding.ParseFromString(b64decode(reply["provider_keys"]))
        bound = self._bindings.verify(binding, expected=check.provider, now=self._clock())
        answer = open_answer(
            SealedAnswer.from_bytes(b64decode(reply["sealed_answer"])), recipient_key=self.keys.sealing,
            provider_key=Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.ANSWER_SIGNING)),
            request_id=check.request_id, provider=check.provider)
        return VerificationResult(check.request_id, answer, None, receipts)

    # -- audit -------------------------------------------------------------------------------------------

    def log_trust(self) -> LogTrust:
        """The log's and witnesses' keys, each checked against its certificate (not taken from the platform)."""
        reply = self.call("GET", "/v1/audit/keys")
        registry = verification_pb2.KeyBinding()
        registry.ParseFromString(b64decode(reply["registry_keys"]))
        bound = self._bindings.verify(registry, expected=self.platform, now=self._clock())
        log = Ed25519Verifier(log_origin(self.platform),
                              Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.AUDIT_LOG)))
        witnesses = []
        for data in reply["witnesses"]:
            binding = verification_pb2.KeyBinding()
            binding.ParseFromString(b64decode(data))
            witness = self._bindings.verify(binding, now=self._clock())
            witnesses.append(CosignatureVerifier(witness.identity.party,
                                                 Ed25519PublicKey.from_public_bytes(witness.key(KeyPurpose.WITNESS))))
        # The client's own floor: a strict majority of the witnesses it was shown, whatever the platform says.
        return LogTrust(log, tuple(witnesses), max(reply["quorum"], len(witnesses) // 2 + 1 if witnesses else 0))

    def receipt(self, index: int) -> InclusionReceipt:
        reply = self.call("GET", f"/v1/audit/receipts/{index}")
        return InclusionReceipt(b64decode(reply["leaf"]), reply["index"], tuple(b64decode(p) for p in reply["proof"]),
                                reply["checkpoint"])

    def check_receipt(self, index: int, trust: LogTrust | None = None):
        """The logged event at `index`, after checking its inclusion proof under a cosigned checkpoint."""
        trust = trust or self.log_trust()
        event, _ = verify_receipt(self.receipt(index), trust.log, witnesses=trust.witnesses, quorum=trust.quorum)
        return event
