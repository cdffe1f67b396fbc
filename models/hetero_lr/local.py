"""What every party does alike: batches, its own weights and optimiser, masked gradient products.

The gradient of a party's weights is X_b^T d / |b| for the batch residual d. The party multiplies its
plaintext columns into the (encrypted) residual, folds the chunks slot-wise, adds a fresh uniform mask per
slot and sends the result to the arbiter, which returns only the masked slot sums; the party subtracts
the sum of its masks. The arbiter never sees an unmasked value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr.checkpoint import decode_array, encode_array
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.params import HeteroLrParams, ProtocolError
from models.hetero_lr.vectors import Vectors


def encode_order(order: np.ndarray) -> bytes:
    """A row order as uint32 little-endian bytes."""
    return np.asarray(order, dtype="<u4").tobytes()


def decode_order(data: bytes, rows: int) -> np.ndarray:
    """Parse and check a row order: a permutation of 0..rows-1 (empty bytes: natural order)."""
    if not data:
        return np.arange(rows, dtype=np.int64)
    if len(data) != 4 * rows:
        raise ProtocolError(f"row order of {len(data)} bytes for {rows} rows")
    order = np.frombuffer(data, dtype="<u4").astype(np.int64)
    if not np.array_equal(np.sort(order), np.arange(rows)):
        raise ProtocolError("the row order is not a permutation")
    return order


def batch_count(rows: int, batch_size: int) -> int:
    """Batches per epoch: ceil(rows / batch_size), so no batch exceeds `batch_size` rows."""
    return max(1, -(-rows // batch_size))


def smallest_batch(rows: int, batch_size: int) -> int:
    """The fewest rows any batch holds (rows are spread evenly: at least about half of `batch_size`)."""
    return rows // batch_count(rows, batch_size)


def split_batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive batches of at most `batch_size` rows, sizes differing by at most one: no tiny remainder
    (a batch of a few rows would hand a party its residuals almost one by one), and with `batch_size` equal
    to the CKKS slot count every batch fits one ciphertext."""
    return np.array_split(order, batch_count(order.size, batch_size))


def padded(values: np.ndarray, length: int) -> np.ndarray:
    """Rows padded with zeros to `length` (zero rows add nothing to any product)."""
    x = np.asarray(values, dtype=np.float64)
    out = np.zeros((length, *x.shape[1:]))
    out[: x.shape[0]] = x
    return out


class LocalWeights:
    """A party's own weights under Nesterov SGD: L2 in the gradient, L1 as a proximal step; the intercept
    (guest only) is never penalised."""

    def __init__(self, n_features: int, params: HeteroLrParams, *, intercept: bool) -> None:
        self.params = params
        self.weights = np.zeros(n_features)
        self.intercept = 0.0 if intercept else None
        self._velocity = np.zeros(n_features)
        self._velocity_b = 0.0

    def lookahead(self) -> tuple[np.ndarray, float]:
        """The point where the gradient is taken: w + momentum * velocity."""
        mu = self.params.momentum
        b = 0.0 if self.intercept is None else self.intercept + mu * self._velocity_b
        return self.weights + mu * self._velocity, b

    def step(self, gradient: np.ndarray, gradient_b: float, epoch: int) -> None:
        """One update with the data gradient at the lookahead point."""
        p, (w_ahead, _) = self.params, self.lookahead()
        rate = p.rate(epoch)
        self._velocity = p.momentum * self._velocity - rate * (gradient + p.l2 * w_ahead)
        self.weights = self.weights + self._velocity
        if p.l1 > 0:
            self.weights = np.sign(self.weights) * np.maximum(np.abs(self.weights) - rate * p.l1, 0.0)
        if self.intercept is not None:
            self._velocity_b = p.momentum * self._velocity_b - rate * gradient_b
            self.intercept += self._velocity_b

    def state(self) -> dict[str, Any]:
        """The weights and optimiser state, for an epoch checkpoint (bit-exact)."""
        return {"weights": encode_array(self.weights), "velocity": encode_array(self._velocity),
                "intercept": self.intercept, "velocity_b": self._velocity_b}

    def restore(self, doc: dict[str, Any]) -> None:
        """Put saved weights and optimiser state back, checking their shape."""
        weights, velocity = decode_array(doc["weights"]), decode_array(doc["velocity"])
        if weights.shape != self.weights.shape or velocity.shape != self.weights.shape:
            raise ProtocolError(f"the checkpoint holds {weights.size} weights, this party has {self.weights.size}")
        if (doc["intercept"] is None) != (self.intercept is None):
            raise ProtocolError("the checkpoint's intercept does not match this party's role")
        self.weights, self._velocity = weights, velocity
        self.intercept = None if doc["intercept"] is None else float(doc["intercept"])
        self._velocity_b = float(doc["velocity_b"])


@dataclass
class PendingMasks:
    """The sum of the masks a party added to each column it sent, kept until the sums come back."""

    sums: np.ndarray


def column_products(vectors: Vectors, residual: Any, columns: np.ndarray) -> list[Any]:
    """x_j * [d] for every column of `columns` (already padded to the residual's length)."""
    return [vectors.mul_plain(residual, columns[:, j]) for j in range(columns.shape[1])]


def fold_and_mask(vectors: Vectors, items: list[Any], bound: float, masks: MaskSource
                  ) -> tuple[pb.MaskedColumns, PendingMasks]:
    """Per item: fold its chunks slot-wise and add a fresh uniform mask to every slot."""
    message = pb.MaskedColumns()
    sums = np.zeros(len(items))
    for j, item in enumerate(items):
        folded = vectors.fold(item)
        mask = masks.uniform(vectors.length(folded), bound)
        message.columns.append(vectors.to_message(vectors.add_plain(folded, mask)))
        sums[j] = mask.sum()
    return message, PendingMasks(sums)


def unmask(reply: pb.MaskedSums, pending: PendingMasks) -> np.ndarray:
    """The column sums without the masks."""
    sums = np.asarray(reply.sums, dtype=np.float64)
    if sums.shape != pending.sums.shape:
        raise ProtocolError(f"{sums.size} sums for {pending.sums.size} columns")
    return sums - pending.sums
