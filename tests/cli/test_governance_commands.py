"""The operator's approval request file (TOML) reads into strict approval terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.governance_commands import read_terms_file
from consent.governance import ApprovalTerms, InvalidApproval

EXAMPLE = """
source = "source/tax"
project = "credit-2026"
purpose = "RISK_MODELLING"
description = "SME default model for the credit-easy-loan platform"
leader = "platform/main"
counterparties = ["source/social_insurance", "coordinator/main"]
items = ["revenue_12m_cny", "vat_paid_12m_cny"]
not_before = "2026-01-01T00:00:00Z"
not_after = "2026-12-31T00:00:00Z"

[algorithms]
psi = 0
secureboost = 2048

[serving]
online = true
institutions = []
institution_kinds = ["bank"]

[quotas]
rows = 10000000
queries = 1000000
"""


def test_a_toml_request_reads_into_terms_filed_by_the_operator(tmp_path: Path) -> None:
    path = tmp_path / "request.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    terms = ApprovalTerms.from_json(read_terms_file(path, "admin/ops"))
    assert terms.requested_by == "admin/ops" and terms.items == ("revenue_12m_cny", "vat_paid_12m_cny")
    assert terms.algorithms == {"psi": 0, "secureboost": 2048} and terms.serving.allows("bank/x", "bank")
    path.write_text(EXAMPLE.replace('leader = "platform/main"', 'leader = "source/court"'), encoding="utf-8")
    with pytest.raises(InvalidApproval, match="only the platform may lead"):
        ApprovalTerms.from_json(read_terms_file(path, "admin/ops"))
