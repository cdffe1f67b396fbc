"""Run settings of a bank federation, read from Flower's run config (the same on the server and banks).

Keys are those of [tool.flwr.app.config] in app/pyproject.toml; `flwr run --run-config` overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.horizontal import BoostingConfig, DpConfig, LogisticConfig
from models.horizontal.errors import InvalidParameterError

MODELS = ("logistic", "xgboost")


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs besides the banks' own data and keys."""

    model: str
    rounds: int
    num_banks: int
    min_banks: int
    bins: int
    holdout_fraction: float
    seed: int
    logistic: LogisticConfig
    boosting: BoostingConfig
    privacy: DpConfig | None
    output_dir: str
    wait_timeout: float
    round_timeout: float
    checkpoint_dir: str = ""  # where the aggregator keeps its round checkpoints ("" : none)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InvalidParameterError(f"model {self.model!r} not in {MODELS}")
        if self.rounds < 1:
            raise InvalidParameterError("num-rounds must be at least 1")
        # Two banks is the floor: with one, the "aggregate" is that bank's own update.
        if not 2 <= self.min_banks <= self.num_banks:
            raise InvalidParameterError("need 2 <= min-banks <= num-banks")
        if not 2 <= self.bins <= 64:
            raise InvalidParameterError("bins must be in 2..64")
        if self.wait_timeout <= 0 or self.round_timeout <= 0:
            raise InvalidParameterError("timeouts must be positive")

    @classmethod
    def from_run_config(cls, config: Mapping[str, Any]) -> RunSettings:
        def get(key: str, default: Any) -> Any:
            return config.get(key, default)

        noise = float(get("dp-noise-multiplier", 0.0))
        max_eps = float(get("dp-max-epsilon", 0.0))
        privacy = None
        if noise > 0:
            privacy = DpConfig(noise, float(get("dp-clip-norm", 1.0)), float(get("dp-delta", 1e-5)),
                               max_eps if max_eps > 0 else None)
        return cls(
            model=str(get("model", "logistic")),
            rounds=int(get("num-rounds", 3)),
            num_banks=int(get("num-banks", 2)),
            min_banks=int(get("min-banks", 2)),
            bins=int(get("bins", 10)),
            holdout_fraction=float(get("holdout-fraction", 0.2)),
            seed=int(get("seed", 0)),
            logistic=LogisticConfig(
                learning_rate=float(get("learning-rate", 0.05)), local_epochs=int(get("local-epochs", 2)),
                batch_size=int(get("batch-size", 64)), l2=float(get("l2", 1e-3)),
                proximal_mu=float(get("proximal-mu", 0.0)),
            ),
            boosting=BoostingConfig(
                trees_per_round=int(get("trees-per-round", 3)), max_depth=int(get("max-depth", 3)),
                learning_rate=float(get("xgb-learning-rate", 0.15)), max_bin=int(get("max-bin", 32)),
            ),
            privacy=privacy,
            output_dir=str(get("output-dir", "")),
            wait_timeout=float(get("wait-timeout", 60.0)),
            round_timeout=float(get("round-timeout", 300.0)),
            checkpoint_dir=str(get("checkpoint-dir", "")),
        )
