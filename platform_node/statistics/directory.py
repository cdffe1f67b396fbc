"""Where an enterprise is and what it does, for grouping financing figures by district and industry.

The platform's own table carries each enterprise's registration district and industry (PUBLIC columns); an
enterprise it does not hold is placed by its credit code, whose characters 3-8 are the administrative division
code of its registration authority (GB 32100), with its industry unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

UNKNOWN_INDUSTRY = "unknown"


def district_of(credit_code: str) -> str:
    """The registration district (GB/T 2260 division code) a unified social credit code carries."""
    return credit_code[2:8]


class EnterpriseDirectory(Protocol):
    def place(self, credit_code: str) -> tuple[str, str]:
        """(district, industry) of an enterprise."""
        ...


class CodeDirectory:
    """Places every enterprise by its credit code alone (industry unknown): a platform without a table."""

    def place(self, credit_code: str) -> tuple[str, str]:
        return district_of(credit_code), UNKNOWN_INDUSTRY


class TableDirectory:
    """Places enterprises from a mapping (the platform's table), falling back to the credit code."""

    def __init__(self, places: Mapping[str, tuple[str, str]]) -> None:
        self._places = dict(places)

    def place(self, credit_code: str) -> tuple[str, str]:
        found = self._places.get(credit_code)
        return found if found is not None else (district_of(credit_code), UNKNOWN_INDUSTRY)

    @classmethod
    def from_frame(cls, frame: Any, *, district: str = "district", industry: str = "industry") -> EnterpriseDirectory:
        """From a table indexed by credit code; `CodeDirectory` when it lacks either column."""
        if district not in frame.columns or industry not in frame.columns:
            return CodeDirectory()
        places = {}
        for code, d, i in zip(frame.index, frame[district], frame[industry], strict=True):
            places[str(code)] = (str(d) if d == d and d is not None else district_of(str(code)),
                                 str(i) if i == i and i is not None else UNKNOWN_INDUSTRY)
        return cls(places)
