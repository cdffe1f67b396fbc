"""Per-party binning of numeric variables: private cut points, and merge plans computed from counts only."""

from models.binning.bins import BinningError, VariableBins
from models.binning.merging import MergeRule, Monotonicity, plan_merges

__all__ = ["BinningError", "MergeRule", "Monotonicity", "VariableBins", "plan_merges"]
