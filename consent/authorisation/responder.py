"""The source node's answering step: gate, look up, evaluate, sign, seal. No transport here."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.authorisation.answers import Answer, TableLookup, evaluate
from consent.authorisation.audit_sink import receipt_json
from consent.authorisation.gate import AuthorisationGate, AuthorisedUse
from consent.authorisation.request import SignedRequest
from consent.authorisation.sealing import SealedAnswer, seal_answer


class VerificationResponder:
    """Answers relayed requests that the gate lets through; refusals propagate as `AuthorisationRefused`."""

    def __init__(self, gate: AuthorisationGate, *, lookup: TableLookup, signing_key: Ed25519PrivateKey) -> None:
        self._gate = gate
        self._lookup = lookup
        self._signing_key = signing_key

    def answer(self, use: AuthorisedUse) -> Answer:
        """The plain answer to an authorised use (before signing and sealing)."""
        stored = self._lookup(use.credit_code, use.field.name)
        return Answer(
            request_id=use.request_id,
            authorisation_id=use.authorisation_id,
            provider=self._gate.node_id,
            requester=use.request.requester,
            question=use.question,
            result=evaluate(use.question, stored, use.field.value_type),
            use_number=use.use_number,
            answered_at=use.at,
            receipt=receipt_json(use.receipt),
        )

    def respond(
        self, signed: SignedRequest, *, now: datetime, rng: Callable[[int], bytes] = os.urandom
    ) -> SealedAnswer:
        """Gate the request, answer it, sign it with the node's key and seal it to the requesting bank."""
        use = self._gate.check(signed, now=now)
        return seal_answer(self.answer(use), signing_key=self._signing_key, recipient=use.sealing_key, rng=rng)
