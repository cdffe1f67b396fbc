"""Message tags the stage handlers exchange around an algorithm's run, named once for both roles.

Each stage speaks in its own namespace (`channel.scoped(scope(stage))`); an algorithm's own messages use the
tags of its `Tags` class in `models/*/runner.py`, under the namespace the handler gives it.
"""

from __future__ import annotations

from jobspec.stages import Stage

# The platform tells each source node the rows of the job's train and holdout samples (positions only).
ALIGN = "align"
# A source node's leaf masks of the finished model over the train and holdout rows (SecureBoost).
MASKS_TRAIN = "masks/train"
MASKS_HOLDOUT = "masks/holdout"
# The platform's plan of leave-one-out contribution rounds (SecureBoost evaluate).
CONTRIBUTION_PLAN = "plan"
# The federated WOE binning run inside the binning stage.
WOE = "woe"
# The contribution round with every party, and the one without party number k of the plan.
FULL_ROUND = "full"


def scope(stage: Stage) -> str:
    """The namespace of a stage's messages."""
    return Stage(stage).value


def without_round(k: int) -> str:
    """The namespace of the contribution round that leaves out the k-th party of the plan."""
    return f"without-{k}"
