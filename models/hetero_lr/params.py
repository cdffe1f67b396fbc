"""Training parameters of vertical logistic regression, frozen and validated, and their wire form."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from errors import Refused, XydError
from federation.proto import hetero_lr_pb2 as pb
from models.errors import InvalidParameterError, ProtocolError  # noqa: F401 (re-exported)
from models.he.ckks import CkksParams

FORMAT_VERSION = 1

# Masks live in the last CKKS level: with a 60-bit first prime and a 40-bit scale a slot holds |x| < 2^19,
# so masks up to 2^17 leave room for the masked products (docs/protocols/hetero_lr.md, "Masks").
MAX_MASK_BOUND = 2.0**17


class HeteroLrError(XydError):
    """Base class of hetero-LR failures (bad parameters, refused plans, protocol violations)."""


class PlanRefusedError(HeteroLrError, Refused):
    """A party's own policy refuses the plan the guest proposed (plaintext mode, too small batches)."""


# What makes a party refuse a training plan: its own policy, a bad parameter, a malformed plan.
PLAN_ERRORS = (HeteroLrError, InvalidParameterError, ProtocolError)


class Schedule(Enum):
    """Learning-rate schedule over epochs t = 0, 1, ...: rate, rate / (1 + decay t) or rate * decay^t."""

    CONSTANT = "constant"
    INVERSE_TIME = "inverse_time"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True)
class HeteroLrParams:
    """Everything the guest decides for a training run; hosts check it against their own policy.

    `l2` is the coefficient of (l2 / 2) ||w||^2 added to the MEAN log loss (scikit-learn's C = 1 / (l2 n));
    the intercept is never penalised. `tol` and `patience` stop training when the epoch loss improves by
    less than `tol` (relative) for `patience` epochs in a row; `tol = 0` trains all `max_epochs`.
    """

    encrypted: bool = True
    batch_size: int = 4096
    max_epochs: int = 20
    shuffle: bool = True
    learning_rate: float = 0.3
    schedule: Schedule = Schedule.CONSTANT
    decay: float = 0.0
    momentum: float = 0.9
    l1: float = 0.0
    l2: float = 0.0
    tol: float = 1e-4
    patience: int = 2
    mask_bound: float = MAX_MASK_BOUND
    ckks: CkksParams = field(default_factory=CkksParams)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise InvalidParameterError("batch_size and max_epochs must be >= 1")
        if not self.learning_rate > 0:
            raise InvalidParameterError("learning_rate must be positive")
        if not 0.0 <= self.momentum < 1.0:
            raise InvalidParameterError("momentum must be in [0, 1)")
        if self.l1 < 0 or self.l2 < 0 or self.tol < 0 or self.patience < 1:
            raise InvalidParameterError("l1, l2, tol must be >= 0 and patience >= 1")
        if self.schedule is Schedule.EXPONENTIAL and not 0.0 < self.decay <= 1.0:
            raise InvalidParameterError("an exponential schedule needs 0 < decay <= 1")
        if self.schedule is Schedule.INVERSE_TIME and self.decay < 0:
            raise InvalidParameterError("an inverse-time schedule needs decay >= 0")
        if not 1.0 <= self.mask_bound <= MAX_MASK_BOUND:
            raise InvalidParameterError(f"mask_bound must be in [1, {MAX_MASK_BOUND}]")
        if self.ckks.depth < 2:
            raise InvalidParameterError("the protocol needs CKKS depth >= 2 (two plaintext products)")

    def rate(self, epoch: int) -> float:
        """The learning rate of `epoch` (0-based) under the schedule."""
        if self.schedule is Schedule.INVERSE_TIME:
            return self.learning_rate / (1.0 + self.decay * epoch)
        if self.schedule is Schedule.EXPONENTIAL:
            return self.learning_rate * self.decay**epoch
        return self.learning_rate

    def to_plan(self, rows: int) -> pb.TrainPlan:
        """The plan the guest sends (CKKS parameters travel with the arbiter's public context)."""
        return pb.TrainPlan(format_version=FORMAT_VERSION, encrypted=self.encrypted, rows=rows,
                            batch_size=self.batch_size, max_epochs=self.max_epochs, shuffle=self.shuffle,
                            learning_rate=self.learning_rate, schedule=self.schedule.value, decay=self.decay,
                            momentum=self.momentum, l1=self.l1, l2=self.l2, mask_bound=self.mask_bound)

    @classmethod
    def from_plan(cls, plan: pb.TrainPlan, ckks: CkksParams | None = None) -> HeteroLrParams:
        """Rebuild (and so validate) the parameters a plan carries."""
        if plan.format_version != FORMAT_VERSION:
            raise ProtocolError(f"unsupported plan format {plan.format_version}")
        try:
            return cls(encrypted=plan.encrypted, batch_size=plan.batch_size, max_epochs=plan.max_epochs,
                       shuffle=plan.shuffle, learning_rate=plan.learning_rate, schedule=Schedule(plan.schedule),
                       decay=plan.decay, momentum=plan.momentum, l1=plan.l1, l2=plan.l2,
                       mask_bound=plan.mask_bound, ckks=ckks or CkksParams())
        except ValueError as error:
            raise ProtocolError(f"invalid plan: {error}") from error
