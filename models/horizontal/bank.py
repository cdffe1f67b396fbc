"""A bank's side of each protocol step, as pure functions of its table, its keyring and the message.

No Flower here: the ClientApp maps messages onto these steps, and tests call them directly. Steps are
stateless (a fresh process serves each message), so everything a step needs arrives with the message
or is recomputed from the bank's own table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.horizontal import boosting, logistic, sealing
from models.horizontal.aggregation import pack_contribution, unpack_aggregate
from models.horizontal.binning import BinEdges, local_quantiles
from models.horizontal.boosting import BoostingConfig
from models.horizontal.data import BankTable, split_holdout
from models.horizontal.errors import InvalidParameterError
from models.horizontal.keyring import BankKeyring
from models.horizontal.logistic import LogisticConfig
from models.horizontal.privacy import DpConfig, check_budget
from models.metrics import auc, ks, or_nan


@dataclass(frozen=True)
class SetupReply:
    """What a bank sends before training: its key fingerprint, the key-free context, encrypted deciles."""

    fingerprint: str
    aggregator_context: bytes
    quantiles: bytes


@dataclass(frozen=True)
class StepReply:
    """An encrypted (or sealed) contribution and the plaintext held-out figures the bank reports."""

    payload: bytes
    figures: dict[str, float]


@dataclass(frozen=True)
class Publication:
    """The final model a bank releases on request, with its held-out figures."""

    feature_names: tuple[str, ...]
    weights: np.ndarray
    bin_edges: BinEdges | None
    booster: bytes
    figures: dict[str, float]


class Bank:
    """One bank: its train/held-out split and the keyring the banks share."""

    def __init__(self, name: str, table: BankTable, keyring: BankKeyring, *, holdout_fraction: float = 0.2,
                 seed: int = 0) -> None:
        self.name = name
        self.feature_names = table.feature_names
        self.train, self.holdout = split_holdout(table, holdout_fraction, seed)
        self.keyring = keyring

    # -- shared steps -------------------------------------------------------------------------------
    def setup(self, bins: int | None) -> SetupReply:
        """Key check material plus, when `bins` is set, this bank's quantiles weighted by its row count,
        encrypted (only the binned logistic model needs them; otherwise they are not released)."""
        ckks = self.keyring.ckks
        quantiles = b""
        if bins is not None:
            quantiles = ckks.encrypt(pack_contribution(local_quantiles(self.train.features, bins), len(self.train)))
        return SetupReply(ckks.fingerprint(), ckks.aggregator_context(), quantiles)

    def _heldout(self, scores: np.ndarray) -> dict[str, float]:
        return {"holdout-auc": or_nan(auc, self.holdout.labels, scores),
                "holdout-ks": or_nan(ks, self.holdout.labels, scores),
                "holdout-rows": float(len(self.holdout))}

    # -- logistic regression (FedAvg / FedProx, CKKS aggregation) ----------------------------------
    # After round 1 every contribution carries the shared deciles it received next to its weights,
    # [n, 1, n*deciles..., n*weights...]: the sum then re-yields the same deciles, and one ciphertext per
    # message serves both (the deciles-only sum from setup is needed in round 1 only).
    def _decrypt_shared(self, quantiles_sum: bytes | None, model_sum: bytes | None, bins: int,
                        min_banks: int) -> tuple[np.ndarray, BinEdges, np.ndarray | None]:
        """(mean deciles, the bin edges they define, global weights or None before the first round)."""
        if (quantiles_sum is None) == (model_sum is None):
            raise InvalidParameterError("need exactly one of the deciles sum (round 1) and the model sum")
        shape = (bins - 1, len(self.feature_names))
        blob = model_sum if model_sum is not None else quantiles_sum
        assert blob is not None
        decrypted = self.keyring.ckks.decrypt(blob)
        deciles = unpack_aggregate(decrypted, shape[0] * shape[1], min_banks).mean
        edges = BinEdges.from_quantiles(deciles.reshape(shape))
        if model_sum is None:
            return deciles, edges, None
        both = unpack_aggregate(decrypted, len(deciles) + edges.width + 1, min_banks).mean
        return deciles, edges, both[len(deciles):]

    def logistic_round(self, *, quantiles_sum: bytes | None, model_sum: bytes | None, round_number: int,
                       bins: int, config: LogisticConfig, privacy: DpConfig | None, min_banks: int,
                       rng: np.random.Generator) -> StepReply:
        """Evaluate the incoming global model (if any) on held-out rows, train locally, encrypt the result."""
        deciles, edges, current = self._decrypt_shared(quantiles_sum, model_sum, bins, min_banks)
        figures: dict[str, float] = {}
        if current is not None:
            figures.update(self._heldout(logistic.predict_proba(current, edges.expand(self.holdout.features))))
        else:
            current = logistic.initial_weights(edges.width)
        if privacy is not None:
            n = len(self.train)
            figures["epsilon"] = check_budget(privacy, logistic.dp_sampling_rate(config, n),
                                              round_number * logistic.dp_steps(config, n))
        result = logistic.train_local(current, edges.expand(self.train.features), self.train.labels, config, rng,
                                      privacy)
        figures["train-loss"] = result.loss
        contribution = pack_contribution(np.concatenate([deciles, result.weights]), len(self.train))
        return StepReply(self.keyring.ckks.encrypt(contribution), figures)

    def logistic_publish(self, *, model_sum: bytes, bins: int, min_banks: int) -> Publication:
        """Decrypt the final aggregate, evaluate it, and release it (the one plaintext model ever sent)."""
        _, edges, weights = self._decrypt_shared(None, model_sum, bins, min_banks)
        assert weights is not None
        figures = self._heldout(logistic.predict_proba(weights, edges.expand(self.holdout.features)))
        return Publication(self.feature_names, weights, edges, b"", figures)

    # -- cyclic XGBoost (model sealed between banks) ----------------------------------------------
    def _open(self, sealed: bytes, run_id: int, round_number: int) -> bytes:
        return sealing.open_sealed(self.keyring.sealing_key, sealed, sealing.binding(run_id, round_number, "booster"))

    def boosting_round(self, *, sealed: bytes | None, run_id: int, round_number: int,
                       config: BoostingConfig) -> StepReply:
        """Open the booster left by the previous round, evaluate it, add trees on own rows, seal it again."""
        figures: dict[str, float] = {}
        model = None
        if sealed is not None:
            model = self._open(sealed, run_id, round_number - 1)
            figures.update(self._heldout(boosting.predict_proba(model, self.holdout.features)))
        model = boosting.boost(model, self.train.features, self.train.labels, config)
        payload = sealing.seal(self.keyring.sealing_key, model, sealing.binding(run_id, round_number, "booster"))
        return StepReply(payload, figures)

    def boosting_publish(self, *, sealed: bytes, run_id: int, last_round: int) -> Publication:
        model = self._open(sealed, run_id, last_round)
        figures = self._heldout(boosting.predict_proba(model, self.holdout.features))
        return Publication(self.feature_names, np.zeros(0), None, model, figures)
