"""Federated binning with WOE/IV: the platform sends Paillier-encrypted labels, each source node returns
encrypted per-bin event sums of its own variables, the platform merges bins, computes WOE and IV, ranks
and selects variables. WOE = ln(%non-events / %events): higher WOE = lower risk (see woe_iv.py)."""

from models.woe.feature_owner import OwnerPolicy, OwnerResult, WoeFeatureOwner
from models.woe.label_holder import WoeLabelHolder, WoeOptions, label_layout
from models.woe.noise import geometric_noise
from models.woe.runner import LabelHolderResult, Tags, run_feature_owner, run_label_holder
from models.woe.selection import RankedVariable, RankingEntry, SelectionRule, rank_variables, ranking_view
from models.woe.variables import FineBins, OwnedVariable, VariableReport, fine_bins, woe_matrix
from models.woe.woe_iv import DEFAULT_SMOOTHING, WoeTable, merge_counts, woe_table

__all__ = [
    "DEFAULT_SMOOTHING",
    "FineBins",
    "LabelHolderResult",
    "OwnedVariable",
    "OwnerPolicy",
    "OwnerResult",
    "RankedVariable",
    "RankingEntry",
    "SelectionRule",
    "Tags",
    "VariableReport",
    "WoeFeatureOwner",
    "WoeLabelHolder",
    "WoeOptions",
    "WoeTable",
    "fine_bins",
    "geometric_noise",
    "label_layout",
    "merge_counts",
    "rank_variables",
    "ranking_view",
    "run_feature_owner",
    "run_label_holder",
    "woe_matrix",
    "woe_table",
]
