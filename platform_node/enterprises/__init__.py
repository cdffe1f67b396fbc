"""Enterprises on the platform: accounts opened through an identity provider, their signing keys (public
halves only, in the consent registry's key registry), and the authentication of their signed requests."""

from platform_node.enterprises.accounts import (
    AuthenticatedEnterprise,
    EnterpriseAccount,
    EnterpriseAccounts,
    KeyChange,
)
from platform_node.enterprises.errors import (
    EnterpriseAlreadySignedUp,
    EnterpriseSuspended,
    EnterpriseUnauthenticated,
    KeyChangeRefused,
    UnknownEnterpriseAccount,
)
from platform_node.enterprises.providers import load_identity_provider

__all__ = [
    "AuthenticatedEnterprise",
    "EnterpriseAccount",
    "EnterpriseAccounts",
    "EnterpriseAlreadySignedUp",
    "EnterpriseSuspended",
    "EnterpriseUnauthenticated",
    "KeyChange",
    "KeyChangeRefused",
    "UnknownEnterpriseAccount",
    "load_identity_provider",
]
