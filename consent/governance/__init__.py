"""Data governance at the source: the catalogue of data items, data-use approvals signed by the source unit,
and the one check a source node makes before any task touches its data. No gRPC or HTTP here.

    store = ApprovalStore(engine, source="source/tax", approval_key=admin_public_key); store.create_schema()
    policy = ApprovalPolicy(store, lambda: catalogue)
    approval = policy.check(Task(TaskKind.TRAIN, leader="platform/main", algorithm="secureboost", project=...))
    approval.items   # the only columns the task may load
"""

from consent.governance.answers import AnswerGate, LeasedQuota
from consent.governance.approval import (
    ALGORITHMS,
    ApprovalTerms,
    Quotas,
    Serving,
    SignedApproval,
    approval_key_id,
    sign_approval,
)
from consent.governance.catalogue import (
    Catalogue,
    CatalogueItem,
    SharingCondition,
    UpdateFrequency,
    catalogue_from_config,
)
from consent.governance.categories import DataCategory, reference_categories
from consent.governance.city_catalogue import CatalogueDiff, CityCatalogue, diff_catalogues
from consent.governance.errors import (
    ApprovalRefused,
    BadApprovalSignature,
    CatalogueError,
    GovernanceError,
    IllegalApprovalTransition,
    InvalidApproval,
    RefusalCode,
    StaleApprovalStatus,
    UnknownApproval,
)
from consent.governance.keys import (
    ApprovalKeyError,
    create_approval_key,
    load_approval_private_key,
    load_approval_public_key,
)
from consent.governance.lifecycle import ALLOWED_TRANSITIONS, TERMINAL, ApprovalStatus, ApprovalTransition
from consent.governance.policy import Approval, ApprovalPolicy, Task, TaskKind, usable_items
from consent.governance.store import ApprovalRecord, ApprovalStore

__all__ = [
    "ALGORITHMS",
    "ALLOWED_TRANSITIONS",
    "TERMINAL",
    "AnswerGate",
    "ApprovalKeyError",
    "Approval",
    "ApprovalPolicy",
    "ApprovalRecord",
    "ApprovalRefused",
    "ApprovalStatus",
    "ApprovalStore",
    "ApprovalTerms",
    "ApprovalTransition",
    "BadApprovalSignature",
    "Catalogue",
    "CatalogueDiff",
    "CatalogueError",
    "CatalogueItem",
    "CityCatalogue",
    "DataCategory",
    "GovernanceError",
    "IllegalApprovalTransition",
    "InvalidApproval",
    "LeasedQuota",
    "Quotas",
    "RefusalCode",
    "Serving",
    "SharingCondition",
    "SignedApproval",
    "StaleApprovalStatus",
    "Task",
    "TaskKind",
    "UnknownApproval",
    "UpdateFrequency",
    "approval_key_id",
    "catalogue_from_config",
    "create_approval_key",
    "diff_catalogues",
    "load_approval_private_key",
    "load_approval_public_key",
    "reference_categories",
    "sign_approval",
    "usable_items",
]
