"""The coordinator appends only well-formed usage lines: canonical JSON with the fields of its kind."""

from __future__ import annotations

import pytest

from consent.governance.usage_lines import UsageError, UsageKind, answer_line, line_bytes
from coordinator.governance_usage import checked_line

SCORES = answer_line(kind=UsageKind.SCORE, source="source/tax", model_id="sb-job-1", institution="bank/icbc-sz",
                     purpose="PRE_LOAN_REVIEW", day="2026-03-01", count=5)


def test_the_coordinator_refuses_malformed_usage_lines() -> None:
    good = line_bytes(SCORES)
    assert checked_line(good, kinds={"score"}) == SCORES
    for bad in ({**SCORES, "count": 0}, {**SCORES, "count": "5"}, {**SCORES, "day": "March"},
                {**SCORES, "source": "bank/x"}, {**SCORES, "extra": 1}):
        with pytest.raises(UsageError):
            checked_line(line_bytes(bad), kinds={"score"})
    with pytest.raises(UsageError):
        checked_line(good, kinds={"task"})
    with pytest.raises(UsageError):
        checked_line(b'{"kind": "score"}', kinds={"score"})  # not canonical
