"""The enterprise side's errors, rooted in the catalogue; the HTTP edge names each one's public answer."""

from __future__ import annotations

from errors import AlreadyExists, InvalidInput, NotFound, Refused


class EnterpriseUnauthenticated(Refused):
    """A signed enterprise request that does not authenticate. `code` says why in public terms:
    UNAUTHENTICATED (unknown key, bad signature, malformed header), STALE_REQUEST (timestamp outside the
    window) or REPLAYED_REQUEST (nonce seen within the window); the detail is for the log."""

    default_public = "missing or invalid enterprise request signature"
    detail_is_public = False

    def __init__(self, detail: str, *, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(detail, code=code)


class EnterpriseSuspended(Refused):
    code = "ENTERPRISE_SUSPENDED"
    default_public = "this enterprise account is suspended"
    detail_is_public = False


class EnterpriseAlreadySignedUp(AlreadyExists):
    code = "ALREADY_SIGNED_UP"
    default_public = "this enterprise has an account already; recover its key instead"
    detail_is_public = False


class UnknownEnterpriseAccount(NotFound):
    code = "NO_ACCOUNT"
    default_public = "this enterprise has no account; sign up first"
    detail_is_public = False


class KeyChangeRefused(InvalidInput):
    """A rotation or recovery that the key registry's rules forbid (the new key is bound already, a
    revocation dated in the future)."""

    code = "KEY_CHANGE_REFUSED"
    default_public = "the key change was refused"
    detail_is_public = False
