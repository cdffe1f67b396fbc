"""An enterprise's signed instruction: decline a consent request, pause, resume or revoke a consent.

Approving is signing the terms themselves (`consent.authorisation.sign_terms`); every other change the
enterprise makes is an `Instruction` it signs with its bound key (domain `xyd/consent/instruction/v1`): what
to do, to which request or consent, as which enterprise with which key, when, and a nonce. The platform keeps
the signed bytes as the evidence of the change and puts their digest in the change's audit leaf, so anyone
can later check that the enterprise itself asked for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.authorisation.codec import (
    canonical_json,
    format_time,
    parse_canonical,
    parse_time,
    require,
    utc_seconds,
)
from consent.authorisation.errors import WireFormatError
from consent.authorisation.signatures import Domain, SignedPayload, key_id, sign, verify
from consent.credit_code import is_valid_credit_code

_TARGET = re.compile(r"(creq-[0-9a-f]{16}|auth-[0-9a-f]{64}|decl-[0-9a-f]{16})")
_NONCE = re.compile(r"[0-9a-f]{32}")
_FIELDS = {"action", "target", "credit_code", "key_id", "signed_at", "nonce"}


class Action(StrEnum):
    """What the enterprise asks for. DECLINE targets a consent request; PAUSE, RESUME and REVOKE a consent
    (authorisation); WITHDRAW a self-declaration."""

    DECLINE = "DECLINE"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    REVOKE = "REVOKE"
    WITHDRAW = "WITHDRAW"


@dataclass(frozen=True)
class Instruction:
    action: Action
    target: str
    credit_code: str
    key_id: str
    signed_at: datetime
    nonce: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "signed_at", utc_seconds(self.signed_at))
        if not _TARGET.fullmatch(self.target):
            raise WireFormatError("instruction target must be a consent request, consent or declaration id")
        if not is_valid_credit_code(self.credit_code):
            raise WireFormatError("instruction credit code is not valid")
        if not re.fullmatch(r"[0-9a-f]{16}", self.key_id) or not _NONCE.fullmatch(self.nonce):
            raise WireFormatError("instruction key id or nonce malformed")

    def to_json(self) -> dict[str, str]:
        return {"action": self.action.value, "target": self.target, "credit_code": self.credit_code,
                "key_id": self.key_id, "signed_at": format_time(self.signed_at), "nonce": self.nonce}


@dataclass(frozen=True)
class SignedInstruction(SignedPayload):
    """The canonical instruction bytes as signed, and the enterprise's signature."""

    @property
    def instruction(self) -> Instruction:
        """The instruction inside; raises `WireFormatError` unless the payload is canonical and well formed."""
        obj = parse_canonical(self.payload)
        if set(obj) != _FIELDS:
            raise WireFormatError("unexpected instruction fields")
        try:
            return Instruction(Action(require(obj, "action", str)), require(obj, "target", str),
                               require(obj, "credit_code", str), require(obj, "key_id", str),
                               parse_time(require(obj, "signed_at", str)), require(obj, "nonce", str))
        except ValueError as exc:
            if isinstance(exc, WireFormatError):
                raise
            raise WireFormatError(f"malformed instruction: {exc}") from None

    def verify_with(self, key: Ed25519PublicKey) -> Instruction:
        """The instruction if `key` signed it; raises `InvalidSignature`."""
        instruction = self.instruction
        verify(key, Domain.INSTRUCTION, self.payload, self.signature)
        return instruction


def sign_instruction(action: Action, target: str, *, credit_code: str, key: Ed25519PrivateKey, now: datetime,
                     rng: Callable[[int], bytes] = os.urandom) -> SignedInstruction:
    """The enterprise's signed instruction, made now with a fresh nonce."""
    instruction = Instruction(action, target, credit_code, key_id(key.public_key()), now, rng(16).hex())
    payload = canonical_json(instruction.to_json())
    return SignedInstruction(payload, sign(key, Domain.INSTRUCTION, payload))
