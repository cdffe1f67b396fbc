"""Financing statistics for the city's first-loan and renewal service centre, from banks' decision feedback."""

from platform_node.statistics.decisions import decision_rows
from platform_node.statistics.directory import (
    UNKNOWN_INDUSTRY,
    CodeDirectory,
    EnterpriseDirectory,
    TableDirectory,
    district_of,
)
from platform_node.statistics.financing import (
    FIGURE_FIELDS,
    DecisionRow,
    Dimension,
    FinancingFigures,
    FinancingReport,
    Group,
    figures,
    financing_report,
    month_of,
    report_csv_rows,
)

__all__ = [
    "FIGURE_FIELDS",
    "UNKNOWN_INDUSTRY",
    "CodeDirectory",
    "DecisionRow",
    "Dimension",
    "EnterpriseDirectory",
    "FinancingFigures",
    "FinancingReport",
    "Group",
    "TableDirectory",
    "decision_rows",
    "district_of",
    "figures",
    "financing_report",
    "month_of",
    "report_csv_rows",
]
