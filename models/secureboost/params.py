"""Training parameters: one frozen, validated object shared by the job spec, the runners and the model file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from models.secureboost.errors import InvalidParameterError

# Heap-numbered trees: 2^(MAX_DEPTH_LIMIT) leaves at most, bitmaps of up to 512 bytes per row and tree.
MAX_DEPTH_LIMIT = 12
# Bin indices are stored as uint16 with one extra index reserved for missing values.
MAX_BINS = 4096
# Classes share one ciphertext per row (fixed_point.PackingLayout): 16 x ~100-bit slots fit a 2048-bit key.
MAX_CLASSES = 16


class Objective(StrEnum):
    """Loss functions: logistic for default prediction, softmax for graded outcomes (classes 0..K-1, 0 = no
    adverse outcome), squared error for amounts."""

    BINARY_LOGISTIC = "binary:logistic"
    MULTI_SOFTPROB = "multi:softprob"
    SQUARED_ERROR = "reg:squarederror"


class Metric(StrEnum):
    """Validation metrics for early stopping."""

    AUC = "auc"
    LOGLOSS = "logloss"
    MLOGLOSS = "mlogloss"
    RMSE = "rmse"

    @property
    def larger_is_better(self) -> bool:
        return self is Metric.AUC


@dataclass(frozen=True)
class SecureBoostParams:
    """XGBoost-style parameters; names follow XGBoost so a modeller can compare with it directly.

    GOSS (goss_top_rate > 0) keeps the rows with the largest |gradient| plus a random share of the rest,
    scaled by (1 - top) / other. Row subsampling and GOSS exclude each other. early_stopping_rounds = 0
    disables early stopping; otherwise a validation set is required at training time.
    """

    n_trees: int = 30
    max_depth: int = 3
    learning_rate: float = 0.3
    bins: int = 32
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    gamma: float = 0.0
    subsample: float = 1.0
    goss_top_rate: float = 0.0
    goss_other_rate: float = 0.0
    colsample_bytree: float = 1.0
    early_stopping_rounds: int = 0
    eval_metric: Metric | None = None
    objective: Objective = Objective.BINARY_LOGISTIC
    num_class: int = 0
    scale_pos_weight: float = 1.0
    encryption: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "objective", _enum(Objective, self.objective, "objective"))
        if self.eval_metric is not None:
            object.__setattr__(self, "eval_metric", _enum(Metric, self.eval_metric, "eval_metric"))
        _check(1 <= self.n_trees <= 10_000, "n_trees", "in [1, 10000]", self.n_trees)
        _check(1 <= self.max_depth <= MAX_DEPTH_LIMIT, "max_depth", f"in [1, {MAX_DEPTH_LIMIT}]", self.max_depth)
        _check(0.0 < self.learning_rate <= 1.0, "learning_rate", "in (0, 1]", self.learning_rate)
        _check(2 <= self.bins <= MAX_BINS, "bins", f"in [2, {MAX_BINS}]", self.bins)
        _check(self.reg_lambda >= 0.0, "reg_lambda", ">= 0", self.reg_lambda)
        _check(self.min_child_weight >= 0.0, "min_child_weight", ">= 0", self.min_child_weight)
        _check(self.gamma >= 0.0, "gamma", ">= 0", self.gamma)
        _check(0.0 < self.subsample <= 1.0, "subsample", "in (0, 1]", self.subsample)
        _check(0.0 < self.colsample_bytree <= 1.0, "colsample_bytree", "in (0, 1]", self.colsample_bytree)
        _check(self.early_stopping_rounds >= 0, "early_stopping_rounds", ">= 0", self.early_stopping_rounds)
        _check(self.scale_pos_weight > 0.0, "scale_pos_weight", "> 0", self.scale_pos_weight)
        _check(0 <= self.seed < 2**63, "seed", "in [0, 2^63)", self.seed)
        if self.goss_top_rate or self.goss_other_rate:
            _check(0.0 < self.goss_top_rate < 1.0, "goss_top_rate", "in (0, 1)", self.goss_top_rate)
            _check(0.0 < self.goss_other_rate < 1.0, "goss_other_rate", "in (0, 1)", self.goss_other_rate)
            total = self.goss_top_rate + self.goss_other_rate
            _check(total <= 1.0, "goss_top_rate + goss_other_rate", "<= 1", total)
            _check(self.subsample == 1.0, "subsample", "1.0 when GOSS is on", self.subsample)
        if self.objective is Objective.MULTI_SOFTPROB:
            _check(3 <= self.num_class <= MAX_CLASSES, "num_class", f"in [3, {MAX_CLASSES}] for multi:softprob",
                   self.num_class)
            _check(self.scale_pos_weight == 1.0, "scale_pos_weight", "1.0 for multi:softprob", self.scale_pos_weight)
            _check(self.metric is Metric.MLOGLOSS, "eval_metric", "mlogloss for multi:softprob", self.metric)
        else:
            _check(self.num_class == 0, "num_class", "0 unless the objective is multi:softprob", self.num_class)
            _check(self.metric is not Metric.MLOGLOSS, "eval_metric", "auc, logloss or rmse", self.metric)
        if self.objective is Objective.SQUARED_ERROR:
            _check(self.scale_pos_weight == 1.0, "scale_pos_weight", "1.0 for regression", self.scale_pos_weight)
            _check(self.metric is Metric.RMSE, "eval_metric", "rmse for regression", self.metric)

    @property
    def goss(self) -> bool:
        return self.goss_top_rate > 0.0

    def encryptions_needed(self, n_rows: int) -> int:
        """Most gradient encryptions training can ask for (one per row and tree): an obfuscator pool's limit."""
        return self.n_trees * n_rows

    @property
    def outputs(self) -> int:
        """Margins per row: one, or one per class (multi-output trees: each leaf holds a vector)."""
        return self.num_class if self.objective is Objective.MULTI_SOFTPROB else 1

    @property
    def metric(self) -> Metric:
        """The early-stopping metric: the one asked for, else AUC for logistic, multiclass log loss for
        softmax and RMSE for regression."""
        if self.eval_metric is not None:
            return self.eval_metric
        return {Objective.BINARY_LOGISTIC: Metric.AUC, Objective.MULTI_SOFTPROB: Metric.MLOGLOSS,
                Objective.SQUARED_ERROR: Metric.RMSE}[self.objective]

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): stored with the model and hashed into lineage."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SecureBoostParams:
        """Build from a job spec's table; unknown keys are refused rather than silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidParameterError(f"unknown SecureBoost parameters: {unknown}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> SecureBoostParams:
        return cls.from_mapping(json.loads(text))


def _enum(kind: type[StrEnum], value: object, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = [m.value for m in kind]  # type: ignore[attr-defined]
        raise InvalidParameterError(f"{name} must be one of {allowed}, got {value!r}") from None


def _check(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise InvalidParameterError(f"{name} must be {rule}, got {value!r}")
