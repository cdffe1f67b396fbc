"""The names of a job's stages and algorithms, shared by the coordinator and every role."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """A step of a job that the coordinator runs on every party at once."""

    PSI = "psi"
    BINNING = "binning"
    TRAIN = "train"
    EVALUATE = "evaluate"
    PUBLISH = "publish"


class Algorithm(StrEnum):
    """What a job's `[train] algorithm` may name."""

    SECUREBOOST = "secureboost"
    HETERO_LR = "hetero_lr"
    SCORECARD = "scorecard"

    @property
    def vertical_lr(self) -> bool:
        """Trained by vertical logistic regression (with the coordinator as arbiter)."""
        return self in (Algorithm.HETERO_LR, Algorithm.SCORECARD)


# The stages a job runs when its file lists none, by algorithm (None: a matching job).
DEFAULT_STAGES: dict[Algorithm | None, tuple[Stage, ...]] = {
    None: (Stage.PSI,),
    Algorithm.SECUREBOOST: (Stage.PSI, Stage.TRAIN, Stage.EVALUATE, Stage.PUBLISH),
    Algorithm.HETERO_LR: (Stage.PSI, Stage.TRAIN, Stage.EVALUATE, Stage.PUBLISH),
    Algorithm.SCORECARD: (Stage.PSI, Stage.BINNING, Stage.TRAIN, Stage.EVALUATE, Stage.PUBLISH),
}
# The stages a vertical LR job runs when it trains on WOE features (`[train] woe = true`).
WOE_STAGES = DEFAULT_STAGES[Algorithm.SCORECARD]
