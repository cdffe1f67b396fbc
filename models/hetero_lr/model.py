"""A party's part of a trained vertical LR model, its wire form, and the convergence report."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr.params import FORMAT_VERSION, ProtocolError


@dataclass(frozen=True)
class ConvergenceReport:
    """How training went: epochs run, whether the loss converged, and the loss of every epoch.

    Losses are the guest's second-order expansion of the mean log loss (without the penalty term).
    """

    epochs: int
    converged: bool
    stop_reason: str
    losses: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class LrModel:
    """One party's weights over its own variables; only the guest's part has a (non-zero) intercept."""

    variables: tuple[str, ...]
    weights: np.ndarray
    intercept: float = 0.0

    def partial_score(self, features: np.ndarray) -> np.ndarray:
        """This party's share of the linear predictor, X w (+ the intercept for the guest)."""
        x = np.asarray(features, dtype=np.float64).reshape(-1, len(self.variables))
        return x @ self.weights + self.intercept

    def to_message(self, *, guest: bool) -> pb.PartyModel:
        """The model part as a message (at rest or in a model registry)."""
        return pb.PartyModel(format_version=FORMAT_VERSION, variables=list(self.variables),
                             weights=self.weights.tolist(), intercept=self.intercept, has_intercept=guest)

    @classmethod
    def from_message(cls, message: pb.PartyModel) -> LrModel:
        """Rebuild a model part, checking its shape."""
        if message.format_version != FORMAT_VERSION:
            raise ProtocolError(f"unsupported model format {message.format_version}")
        if len(message.variables) != len(message.weights):
            raise ProtocolError("one weight per variable expected")
        return cls(tuple(message.variables), np.asarray(message.weights, dtype=np.float64),
                   message.intercept if message.has_intercept else 0.0)
