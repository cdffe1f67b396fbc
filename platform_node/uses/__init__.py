"""Data-use records with their audit leaves, outcome feedback, deadlines, and training-label export."""

from platform_node.uses.deadlines import OverdueAction, OverdueCounter, OverduePolicy, overdue_institutions
from platform_node.uses.errors import (
    FeedbackConflict,
    FeedbackOverdue,
    InvalidFeedback,
    UseError,
    UseNotFound,
    UseStoreUnavailable,
)
from platform_node.uses.feedback import (
    Decision,
    DecisionFeedback,
    FeedbackBook,
    RepaymentFeedback,
    RepaymentOutcome,
)
from platform_node.uses.labels import LabelExport, export_labels
from platform_node.uses.records import PreparedUses, RecordedUse, UseBook, UseRecord

__all__ = [
    "Decision",
    "DecisionFeedback",
    "FeedbackBook",
    "FeedbackConflict",
    "FeedbackOverdue",
    "InvalidFeedback",
    "LabelExport",
    "OverdueAction",
    "OverdueCounter",
    "OverduePolicy",
    "PreparedUses",
    "RecordedUse",
    "RepaymentFeedback",
    "RepaymentOutcome",
    "UseBook",
    "UseError",
    "UseNotFound",
    "UseRecord",
    "UseStoreUnavailable",
    "export_labels",
    "overdue_institutions",
]
