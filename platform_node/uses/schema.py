"""Tables of data uses, feedback events and exported training labels (SQLAlchemy Core; times in Unix seconds).

A use row holds what was served (score, grade, reason categories, model) and the feedback state; money is
stored in fen (integer) and rates as decimal text, so no float rounding touches them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

use_metadata = MetaData()

uses = Table(
    "platform_uses",
    use_metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("institution_id", String(128), nullable=False),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("purpose", String(32), nullable=False),
    Column("loan_application_ref", String(64), nullable=False),
    Column("batch_id", String(32), nullable=True),
    Column("model_id", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("probability_of_default", Float, nullable=True),
    Column("score", Integer, nullable=True),
    Column("grade", String(8), nullable=True),
    Column("reason_codes", Text, nullable=False, default=""),
    Column("degraded", Boolean, nullable=False, default=False),
    Column("missing_sources", Text, nullable=False, default=""),
    Column("result_nonce", LargeBinary(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("feedback_due_at", Integer, nullable=True),
    Column("decision", String(16), nullable=True),
    Column("decided_at", Integer, nullable=True),
    Column("amount_fen", BigInteger, nullable=True),
    Column("annual_rate", String(16), nullable=True),
    Column("term_months", Integer, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("outcome_at", Integer, nullable=True),
    Column("audit_index", BigInteger, nullable=False),
    # Why an UNANSWERED use got no score (UNKNOWN_ENTERPRISE, SOURCE_UNAVAILABLE, ...); null for a score.
    Column("failure_code", String(32), nullable=True),
    # From the decision feedback (null when not reported): the enterprise's first loan (首贷) rather than a
    # renewal or repeat loan, and a loan secured by collateral, pledge or guarantee rather than a credit loan.
    Column("first_loan", Boolean, nullable=True),
    Column("secured", Boolean, nullable=True),
    Index("ix_platform_uses_institution_created", "institution_id", "created_at"),
    Index("ix_platform_uses_overdue", "decision", "feedback_due_at", "institution_id"),
    Index("ix_platform_uses_decided", "decided_at"),
    Index("ix_platform_uses_created_id", "created_at", "id"),
)

feedback_events = Table(
    "platform_feedback_events",
    use_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("use_id", String(32), nullable=False, index=True),
    Column("institution_id", String(128), nullable=False),
    Column("type", String(16), nullable=False),
    Column("code", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=True),
    Column("annual_rate", String(16), nullable=True),
    Column("term_months", Integer, nullable=True),
    Column("first_loan", Boolean, nullable=True),
    Column("secured", Boolean, nullable=True),
    Column("at", Integer, nullable=False),
    Column("nonce", LargeBinary(16), nullable=False),
    Column("audit_index", BigInteger, nullable=False),
)

training_labels = Table(
    "platform_training_labels",
    use_metadata,
    Column("use_id", String(32), primary_key=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("label", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("observed_at", Integer, nullable=False),
    Column("scored_at", Integer, nullable=False),
    Column("model_id", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("exported_at", Integer, nullable=False),
)

# Look-up patterns a compliance officer should see: a bank that asked about many enterprises the federation
# does not know within one window (`platform_node.uses.lookup_watch`).
lookup_alerts = Table(
    "platform_lookup_alerts",
    use_metadata,
    Column("id", String(32), primary_key=True),
    Column("institution_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("window_start", Integer, nullable=False),
    Column("window_end", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("lookups", Integer, nullable=False),
    Column("created_at", Integer, nullable=False),
    Index("ix_platform_lookup_alerts_created", "created_at"),
)
