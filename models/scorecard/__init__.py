"""A federated credit scorecard: points tables held by each variable's owner, scores summed across
parties, at most four reason codes per score, and KS/AUC/Gini/PSI evaluation."""

from models.scorecard.evaluation import ScorecardReport
from models.scorecard.grades import DEFAULT_GRADES, GradeBands
from models.scorecard.params import ScorecardError, ScorecardParams
from models.scorecard.points import PartyScorecard, PartyScores, VariablePoints, base_points
from models.scorecard.reasons import ReasonCode, rank_reasons
from models.scorecard.scoring import (
    Lookup,
    Score,
    TableLookup,
    Tags,
    combine,
    request_scores,
    serve_points,
)

__all__ = [
    "DEFAULT_GRADES",
    "GradeBands",
    "Lookup",
    "PartyScorecard",
    "PartyScores",
    "ReasonCode",
    "Score",
    "ScorecardError",
    "ScorecardParams",
    "ScorecardReport",
    "TableLookup",
    "Tags",
    "VariablePoints",
    "base_points",
    "combine",
    "rank_reasons",
    "request_scores",
    "serve_points",
]
