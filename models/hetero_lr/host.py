"""A host's protocol steps (a source node: features only, no labels, public CKKS context only).

Per batch the host encrypts its partial predictor [X_b w] for the guest, then turns the guest's [d]
into masked products of its own columns for the arbiter, and finally unmasks its own gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr.checkpoint import EpochState
from models.hetero_lr.guest import bind_vectors
from models.hetero_lr.local import (
    LocalWeights,
    PendingMasks,
    column_products,
    decode_order,
    fold_and_mask,
    padded,
    smallest_batch,
    split_batches,
    unmask,
)
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.model import LrModel
from models.hetero_lr.params import HeteroLrParams, InvalidParameterError, PlanRefusedError, ProtocolError
from models.hetero_lr.vectors import Vectors, padded_length


@dataclass(frozen=True)
class HostPolicy:
    """A host's own limits: plaintext mode only when allowed; batches large enough that its gradient
    (|features| equations per batch) cannot single out the batch's residuals."""

    allow_plaintext: bool = False
    min_batch_size: int = 32

    def check(self, params: HeteroLrParams, rows: int, n_features: int) -> None:
        """Raise PlanRefusedError when the guest's plan breaks this policy."""
        if not params.encrypted and not self.allow_plaintext:
            raise PlanRefusedError("the guest asked for plaintext training and this host does not allow it")
        smallest = smallest_batch(rows, params.batch_size)
        if smallest < max(self.min_batch_size, n_features + 1):
            raise PlanRefusedError(
                f"batches of {smallest} rows are too small for {n_features} features (policy: >= "
                f"{max(self.min_batch_size, n_features + 1)})")


class HostTrainer:
    """One host's features (rows aligned with the guest's labels) and weights."""

    def __init__(self, features: np.ndarray, *, variables: Sequence[str] | None = None,
                 policy: HostPolicy = HostPolicy(), masks: MaskSource | None = None) -> None:  # noqa: B008
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] == 0:
            raise InvalidParameterError("a host needs an (n, k) feature matrix with k >= 1")
        if not np.all(np.isfinite(x)):
            raise InvalidParameterError("host features contain NaN or infinity")
        self.features = x
        self.variables = list(variables) if variables is not None else [f"x{j}" for j in range(x.shape[1])]
        if len(self.variables) != x.shape[1]:
            raise InvalidParameterError(f"{len(self.variables)} names for {x.shape[1]} columns")
        self.policy = policy
        self._masks = masks or MaskSource()
        self.params: HeteroLrParams | None = None
        self.local: LocalWeights | None = None
        self._vectors: Vectors | None = None
        self.epoch = -1
        self._batches: list[np.ndarray] = []
        self._pending: dict[int, PendingMasks] = {}

    def accept(self, plan: pb.TrainPlan, setup: pb.CkksSetup) -> HeteroLrParams:
        """Check the guest's plan against this host's policy and adopt the arbiter's context."""
        params = HeteroLrParams.from_plan(plan)
        if plan.rows != self.features.shape[0]:
            raise PlanRefusedError(f"the plan has {plan.rows} rows, this host holds {self.features.shape[0]}")
        self.policy.check(params, int(plan.rows), self.features.shape[1])
        self.params = params
        self.local = LocalWeights(self.features.shape[1], params, intercept=False)
        self._vectors = bind_vectors(params, setup)
        return params

    def _ready(self) -> tuple[HeteroLrParams, LocalWeights, Vectors]:
        if self.params is None or self.local is None or self._vectors is None:
            raise ProtocolError("accept() a plan first")
        return self.params, self.local, self._vectors

    def start_epoch(self, message: pb.EpochStart) -> None:
        """Adopt the guest's row order for the next epoch."""
        params, _, _ = self._ready()
        if message.epoch != self.epoch + 1:
            raise ProtocolError(f"epoch {message.epoch} after epoch {self.epoch}")
        self.epoch = message.epoch
        order = decode_order(message.order, self.features.shape[0])
        self._batches = split_batches(order, params.batch_size)

    @property
    def n_batches(self) -> int:
        """Batches in the current epoch."""
        return len(self._batches)

    def partial_predictor(self, b: int) -> pb.PartialPredictor:
        """[X_b w] at the lookahead weights, encrypted under the arbiter's key."""
        _, local, vec = self._ready()
        rows = self._batches[b]
        w, _ = local.lookahead()
        u = padded(self.features[rows] @ w, padded_length(rows.size, vec.slots))
        return pb.PartialPredictor(u=vec.to_message(vec.encrypt(u)))

    def masked_columns(self, b: int, residual: pb.Residual) -> pb.MaskedColumns:
        """Masked products of every own column with the guest's [d]."""
        params, _, vec = self._ready()
        rows = self._batches[b]
        length = padded_length(rows.size, vec.slots)
        d = vec.from_message(residual.d)
        if vec.length(d) != length:
            raise ProtocolError(f"[d] holds {vec.length(d)} values for a batch of {length}")
        columns = padded(self.features[rows], length)
        message, self._pending[b] = fold_and_mask(vec, column_products(vec, d, columns), params.mask_bound,
                                                  self._masks)
        return message

    def absorb(self, b: int, reply: pb.MaskedSums) -> None:
        """Unmask the gradient of batch `b` and step the weights."""
        _, local, _ = self._ready()
        pending = self._pending.pop(b, None)
        if pending is None:
            raise ProtocolError(f"sums for batch {b} before its columns")
        local.step(unmask(reply, pending) / self._batches[b].size, 0.0, self.epoch)

    def snapshot(self, fingerprint: str) -> EpochState:
        """This host's state after the epoch just ended: its weights and optimiser."""
        _, local, _ = self._ready()
        return EpochState("host", self.epoch + 1, fingerprint, local.state())

    def restore(self, state: EpochState) -> None:
        """Continue after `state.epochs` finished epochs (after `accept`)."""
        _, local, _ = self._ready()
        if state.weights is None or state.epochs < 1:
            raise ProtocolError("an empty host checkpoint")
        local.restore(dict(state.weights))
        self.epoch = state.epochs - 1

    def model(self) -> LrModel:
        """This host's part of the model."""
        _, local, _ = self._ready()
        return LrModel(tuple(self.variables), local.weights.copy())
