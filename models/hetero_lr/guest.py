"""The guest's protocol steps (the platform: labels, its own features, the intercept).

Residual. With a = the guest's own partial predictor (own features and intercept, in the clear) and
[v] = the sum of the hosts' encrypted partial predictors, the guest linearises the sigmoid around a:

    d = sigma(a + v) - y  ~=  sigma(a) - y + sigma'(a) * v        ([d] needs one plaintext product)

exact in the guest's own part, first order in the hosts' part. The loss reported per epoch is the
matching second-order expansion of the log loss, l(a) + (sigma(a) - y) v + sigma'(a) v^2 / 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.he.ckks import CkksParams, CkksPublicContext
from models.hetero_lr.checkpoint import EpochState
from models.hetero_lr.local import (
    LocalWeights,
    PendingMasks,
    batch_count,
    column_products,
    encode_order,
    fold_and_mask,
    padded,
    split_batches,
    unmask,
)
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.model import ConvergenceReport, LrModel
from models.hetero_lr.params import HeteroLrParams, InvalidParameterError, ProtocolError
from models.hetero_lr.vectors import CkksVectors, PlainVectors, Vectors, padded_length

# Plain mode folds vectors in chunks of this many values, as CKKS at poly_degree 8192 does.
PLAIN_SLOTS = 4096


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, stable for large |x|."""
    return np.exp(-np.logaddexp(0.0, -x))


@dataclass
class _Batch:
    rows: np.ndarray
    pending: PendingMasks | None = None


class GuestTrainer:
    """Drives training: proposes the plan, orders the rows, computes [d], decides when to stop."""

    def __init__(self, labels: np.ndarray, features: np.ndarray, params: HeteroLrParams, *,
                 variables: Sequence[str] | None = None, masks: MaskSource | None = None,
                 rng: np.random.Generator | None = None) -> None:
        y = np.asarray(labels, dtype=np.float64).ravel()
        x = np.asarray(features, dtype=np.float64).reshape(y.size, -1)
        if y.size < 2 or not np.all((y == 0.0) | (y == 1.0)) or y.min() == y.max():
            raise InvalidParameterError("labels must be 0/1 with both classes present")
        if not np.all(np.isfinite(x)):
            raise InvalidParameterError("guest features contain NaN or infinity")
        self.labels, self.features, self.params = y, x, params
        self.variables = list(variables) if variables is not None else [f"x{j}" for j in range(x.shape[1])]
        if len(self.variables) != x.shape[1]:
            raise InvalidParameterError(f"{len(self.variables)} names for {x.shape[1]} columns")
        self.local = LocalWeights(x.shape[1], params, intercept=True)
        self._masks = masks or MaskSource()
        self._rng = rng if rng is not None else np.random.default_rng()
        self._vectors: Vectors | None = None
        self.epoch = -1
        self._batches: list[_Batch] = []
        self._loss_sum = 0.0
        self._losses: list[float] = []
        self._stale = 0
        self.finished = False
        self.converged = False
        self._state: dict[int, tuple[object, np.ndarray]] = {}

    @property
    def rows(self) -> int:
        """Training rows (aligned across parties)."""
        return int(self.labels.size)

    def plan(self) -> pb.TrainPlan:
        """The plan every other party receives first."""
        return self.params.to_plan(self.rows)

    def bind(self, setup: pb.CkksSetup) -> None:
        """Adopt the arbiter's public CKKS context (encrypted mode) or go plain."""
        self._vectors = bind_vectors(self.params, setup)

    @property
    def vectors(self) -> Vectors:
        if self._vectors is None:
            raise ProtocolError("bind() the arbiter's setup first")
        return self._vectors

    @property
    def n_batches(self) -> int:
        """Batches in each epoch."""
        return batch_count(self.rows, self.params.batch_size)

    def start_epoch(self) -> pb.EpochStart:
        """Order the rows of the next epoch and split them into batches."""
        self.epoch += 1
        order = self._rng.permutation(self.rows) if self.params.shuffle else np.arange(self.rows)
        self._batches = [_Batch(rows) for rows in split_batches(order, self.params.batch_size)]
        self._loss_sum = 0.0
        return pb.EpochStart(epoch=self.epoch, order=encode_order(order) if self.params.shuffle else b"")

    def residual(self, b: int, partials: Mapping[str, pb.PartialPredictor]) -> pb.Residual:
        """[d] of batch `b` from the hosts' encrypted partial predictors; kept for the guest's own gradient."""
        if not partials:
            raise ProtocolError("no host partial predictors")
        vec, rows = self.vectors, self._batches[b].rows
        length = padded_length(rows.size, vec.slots)
        total = None
        for party in sorted(partials):
            u = vec.from_message(partials[party].u)
            if vec.length(u) != length:
                raise ProtocolError(f"{party} sent {vec.length(u)} values for a batch of {length}")
            total = u if total is None else vec.add(total, u)
        w, b0 = self.local.lookahead()
        a = self.features[rows] @ w + b0
        s = sigmoid(a)
        slope = s * (1.0 - s)
        y = self.labels[rows]
        d = vec.add_plain(vec.mul_plain(total, padded(slope, length)), padded(s - y, length))
        loss = vec.add_plain(
            vec.add(vec.mul_plain(total, padded(s - y, length)), vec.mul_plain(vec.square(total), padded(slope / 2, length))),
            padded(np.logaddexp(0.0, a) - y * a, length))
        self._state[b] = (d, loss)
        return pb.Residual(d=vec.to_message(d))

    def masked_columns(self, b: int) -> pb.MaskedColumns:
        """The guest's own masked products: its feature columns, the intercept and the batch loss."""
        d, loss = self._state.pop(b)
        rows = self._batches[b].rows
        length = padded_length(rows.size, self.vectors.slots)
        columns = padded(np.column_stack([self.features[rows], np.ones(rows.size)]), length)
        items = [*column_products(self.vectors, d, columns), loss]
        message, pending = fold_and_mask(self.vectors, items, self.params.mask_bound, self._masks)
        self._batches[b].pending = pending
        return message

    def absorb(self, b: int, reply: pb.MaskedSums) -> None:
        """Unmask the sums of batch `b`, step the guest's weights and add up the loss."""
        batch = self._batches[b]
        if batch.pending is None:
            raise ProtocolError(f"sums for batch {b} before its columns")
        sums = unmask(reply, batch.pending) / batch.rows.size
        k = self.features.shape[1]
        self.local.step(sums[:k], float(sums[k]), self.epoch)
        self._loss_sum += float(sums[k + 1]) * batch.rows.size
        batch.pending = None

    def end_epoch(self) -> pb.EpochEnd:
        """Record the epoch loss and decide whether to stop (convergence or the epoch limit)."""
        loss = self._loss_sum / self.rows
        previous = self._losses[-1] if self._losses else None
        self._losses.append(loss)
        if self.params.tol > 0 and previous is not None and previous - loss < self.params.tol * max(1.0, abs(previous)):
            self._stale += 1
        else:
            self._stale = 0
        self.converged = self._stale >= self.params.patience
        self.finished = self.converged or self.epoch + 1 >= self.params.max_epochs
        return pb.EpochEnd(epoch=self.epoch, stop=self.finished)

    def snapshot(self, fingerprint: str) -> EpochState:
        """This guest's state after the epoch just ended (docs/protocols/hetero_lr.md, "Checkpoints")."""
        return EpochState("guest", self.epoch + 1, fingerprint, self.local.state(),
                          {"rng": self._rng.bit_generator.state, "losses": self._losses, "stale": self._stale})

    def restore(self, state: EpochState) -> None:
        """Continue after `state.epochs` finished epochs: weights, optimiser, row-order generator, losses."""
        if state.weights is None or state.guest is None or state.epochs < 1:
            raise ProtocolError("an empty guest checkpoint")
        self.local.restore(dict(state.weights))
        generator = self._rng.bit_generator
        if state.guest["rng"].get("bit_generator") != type(generator).__name__:
            raise ProtocolError("the checkpoint's row-order generator is of another kind")
        generator.state = state.guest["rng"]
        self._losses = [float(v) for v in state.guest["losses"]]
        self._stale = int(state.guest["stale"])
        self.epoch = state.epochs - 1

    def report(self) -> ConvergenceReport:
        """Epochs run, why training stopped and the loss of every epoch."""
        return ConvergenceReport(epochs=len(self._losses), converged=self.converged,
                                 stop_reason="converged" if self.converged else "max_epochs",
                                 losses=tuple(self._losses))

    def model(self) -> LrModel:
        """The guest's part of the model: its weights and the intercept."""
        return LrModel(tuple(self.variables), self.local.weights.copy(), float(self.local.intercept or 0.0))


def bind_vectors(params: HeteroLrParams, setup: pb.CkksSetup) -> Vectors:
    """The vector backend a plan and the arbiter's setup call for (refusing a mismatch)."""
    if not params.encrypted:
        if setup.HasField("context"):
            raise ProtocolError("plain mode but the arbiter sent a CKKS context")
        return PlainVectors(PLAIN_SLOTS)
    if not setup.HasField("context"):
        raise ProtocolError("encrypted mode but the arbiter sent no CKKS context")
    message = setup.context
    ckks = CkksParams(message.poly_degree, tuple(message.coeff_bits), message.scale_bits)
    if ckks.depth < 2:
        raise ProtocolError("the arbiter's CKKS parameters have depth < 2")
    return CkksVectors(CkksPublicContext.from_bytes(message.context, ckks))
