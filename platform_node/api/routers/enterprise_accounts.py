"""`POST /v1/enterprise-accounts` (sign up) and `POST /v1/enterprise-accounts/recovery` (re-bind after a lost
key): authenticated by the identity proof in the body, not by a key (the enterprise has none bound yet, or
lost it). A proof that fails counts against the client address's failed-authentication allowance."""

from __future__ import annotations

from fastapi import APIRouter, Request

from consent.authorisation import WireFormatError
from consent.authorisation.codec import b64decode
from consent.enterprise import IdentityNotProven, IdentityProof
from platform_node.api.deps import Services, client_address_of
from platform_node.api.schemas.common import LeafReceiptOut, error_responses
from platform_node.api.schemas.enterprises import IdentityProofIn, KeyChangeOut, RecoveryIn, SignUpIn
from platform_node.api.services import PlatformServices
from platform_node.enterprises import KeyChange

router = APIRouter(prefix="/v1/enterprise-accounts", tags=["enterprise accounts"])


def _proof(body: IdentityProofIn) -> IdentityProof:
    try:
        return IdentityProof(body.provider, b64decode(body.statement), b64decode(body.signature),
                             b64decode(body.credential), b64decode(body.key_signature))
    except WireFormatError:
        raise IdentityNotProven("undecodable proof") from None


def _counted(services: PlatformServices, request: Request, change):
    """Run a proof-authenticated change; a failed proof is a failed authentication of the client."""
    try:
        return change()
    except (IdentityNotProven, WireFormatError):
        services.failed_auth.failed(client_address_of(request), None, now=services.now().timestamp())
        raise


def key_change_out(change: KeyChange) -> KeyChangeOut:
    return KeyChangeOut(credit_code=change.account.credit_code, key_id=change.key_id,
                        revoked_key_ids=list(change.revoked), audit=[LeafReceiptOut.of(r) for r in change.receipts])


@router.post("", response_model=KeyChangeOut, status_code=201, summary="Sign up an enterprise",
             responses=error_responses(401, 409, 422, 429))
def sign_up(body: SignUpIn, request: Request, services: Services) -> KeyChangeOut:
    """Opens the enterprise's account and binds its first signing key after the identity proof holds: the
    configured identity provider vouches for the credential (e.g. an enterprise certificate naming the
    credit code), the statement names this platform, is fresh and new, and the key signed it too. The
    platform stores the public key only. `401 IDENTITY_NOT_PROVEN` for any failed proof (the reason stays in
    the platform's log); `409 ALREADY_SIGNED_UP` if the enterprise has an account (recover instead)."""
    proof = _proof(body.proof)
    change = _counted(services, request, lambda: services.enterprises.sign_up(proof, now=services.now()))
    return key_change_out(change)


@router.post("/recovery", response_model=KeyChangeOut, summary="Re-bind after a lost key",
             responses=error_responses(401, 404, 422, 429))
def recover(body: RecoveryIn, request: Request, services: Services) -> KeyChangeOut:
    """A fresh identity proof (purpose RECOVER) re-binds the enterprise: every earlier key is revoked from
    `revoked_from` (so whatever was signed with them since stops verifying at every source node) and the new
    key is bound from now. `404 NO_ACCOUNT` if the enterprise never signed up."""
    proof = _proof(body.proof)
    change = _counted(services, request, lambda: services.enterprises.recover(
        proof, revoked_from=body.revoked_from, now=services.now()))
    return key_change_out(change)
