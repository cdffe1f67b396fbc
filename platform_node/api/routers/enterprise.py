"""`/v1/enterprise/*`: the enterprise's own side of the API. Every request is signed by the enterprise's bound
key (`Authorization: XYD-Enterprise ...`, checked by the request gate before the body is read); the routes
act for the enterprise that signed, never for another."""

from __future__ import annotations

from fastapi import APIRouter

from consent.authorisation.codec import b64decode, b64encode, format_time
from platform_node.api.deps import CurrentEnterprise, Services
from platform_node.api.routers.enterprise_accounts import key_change_out
from platform_node.api.schemas.common import error_responses
from platform_node.api.schemas.enterprises import (
    EnterpriseAccountOut,
    EnterpriseKeyOut,
    KeyChangeOut,
    RotationIn,
)

router = APIRouter(prefix="/v1/enterprise", tags=["enterprise"])


def _time(value) -> str | None:
    return None if value is None else format_time(value)


@router.get("/account", response_model=EnterpriseAccountOut, summary="Own account and keys",
            responses=error_responses(401, 403, 429))
def get_account(enterprise: CurrentEnterprise, services: Services) -> EnterpriseAccountOut:
    account = enterprise.account
    keys = [EnterpriseKeyOut(key_id=k.key_id, public_key=b64encode(k.public_key.public_bytes_raw()),
                             valid_from=format_time(k.valid_from), valid_until=_time(k.valid_until),
                             revoked_at=_time(k.revoked_at))
            for k in services.enterprises.keys.keys(account.credit_code)]
    return EnterpriseAccountOut(credit_code=account.credit_code, name=account.name, signatory=account.signatory,
                                signatory_role=account.signatory_role.value,
                                identity_check=account.identity_check.value, provider=account.provider,
                                status=account.status, created_at=format_time(account.created_at), keys=keys)


@router.post("/keys/rotation", response_model=KeyChangeOut, summary="Rotate the signing key",
             responses=error_responses(401, 403, 422, 429))
def rotate_key(body: RotationIn, enterprise: CurrentEnterprise, services: Services) -> KeyChangeOut:
    """Signed with the current key; the new key proves possession by signing a ROTATE statement. The current
    key closes now: what it signed before stays valid, nothing it signs from now on is accepted."""
    change = services.enterprises.rotate(enterprise, b64decode(body.statement), b64decode(body.key_signature),
                                         now=services.now())
    return key_change_out(change)
