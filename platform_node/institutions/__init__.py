"""Institutions of the bank API: onboarding, API keys (stored as keyed hashes), agreements, limits."""

from platform_node.institutions.agreements import Agreement, AgreementBook, AgreementScope
from platform_node.institutions.credentials import IssuedKey, KeyHasher
from platform_node.institutions.errors import (
    DuplicateInstitution,
    InstitutionError,
    InstitutionSuspended,
    InvalidCredentials,
    InvalidInstitution,
    NoAgreement,
    QuotaExhausted,
    RateLimited,
    UnknownInstitution,
)
from platform_node.institutions.limits import TokenBucketLimiter, consume_quota
from platform_node.institutions.model import Institution, InstitutionKind, InstitutionLimits, Role
from platform_node.institutions.registry import InstitutionRegistry, WebhookTarget
from platform_node.institutions.webhook_secrets import SecretBox
from platform_node.institutions.webhook_targets import (
    CheckedTarget,
    WebhookPolicy,
    WebhookTargetRefused,
    check_webhook_target,
)

__all__ = [
    "Agreement",
    "CheckedTarget",
    "AgreementBook",
    "AgreementScope",
    "DuplicateInstitution",
    "Institution",
    "InstitutionError",
    "InstitutionKind",
    "InstitutionLimits",
    "InstitutionRegistry",
    "InstitutionSuspended",
    "InvalidCredentials",
    "InvalidInstitution",
    "IssuedKey",
    "KeyHasher",
    "NoAgreement",
    "QuotaExhausted",
    "RateLimited",
    "Role",
    "SecretBox",
    "TokenBucketLimiter",
    "UnknownInstitution",
    "WebhookPolicy",
    "WebhookTarget",
    "WebhookTargetRefused",
    "check_webhook_target",
    "consume_quota",
]
