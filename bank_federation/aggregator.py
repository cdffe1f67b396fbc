"""The aggregator's protocol driver (run by the ServerApp at the platform): it relays and sums, never reads.

Logistic: setup (key check, encrypted deciles summed) -> R rounds (encrypted updates summed) -> publish.
XGBoost (cyclic): setup (key check) -> R rounds, one bank per round in a fixed order, relaying the sealed
booster -> publish. Every bank reports held-out figures of the incoming global model in each round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

from bank_federation import records
from bank_federation.checkpoint import AggregatorCheckpoints, RoundState, settings_fingerprint
from bank_federation.records import MessageKind, ProtocolError
from bank_federation.settings import RunSettings
from models.horizontal import AggregatorCkks, GlobalModel, Publication, PublicationMismatchError
from models.horizontal.aggregation import agree_on_key
from models.horizontal.model_file import now_iso
from models.metrics import weighted_mean

# Published weights come from decrypting one ciphertext with one key: banks agree to the last bit in
# practice; the tolerance only absorbs platform differences in floating-point decoding.
PUBLICATION_TOLERANCE = 1e-9
PULL_INTERVAL = 0.25


@dataclass
class Traffic:
    """Payload bytes the aggregator sent and received (records as serialised, before HTTP/TLS framing)."""

    sent: int = 0
    received: int = 0
    messages: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.received


@dataclass
class FederationResult:
    """The published model and the global report of the run."""

    model: GlobalModel
    report: dict[str, Any]
    traffic: Traffic = field(default_factory=Traffic)


class BankFederation:
    """Drives one run over a Flower Grid (real SuperLink or in-process)."""

    def __init__(self, grid: Grid, settings: RunSettings, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.grid = grid
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.traffic = Traffic()
        self.names: dict[int, str] = {}
        self.checkpoints = AggregatorCheckpoints(Path(settings.checkpoint_dir)) if settings.checkpoint_dir else None
        self._key_fingerprint = ""
        self._origin_run = 0

    # -- transport ------------------------------------------------------------------------------
    def wait_for_banks(self) -> list[int]:
        """Node ids of the connected banks, once at least `num_banks` are there."""
        deadline = self.clock() + self.settings.wait_timeout
        while True:
            nodes = sorted(self.grid.get_node_ids())
            if len(nodes) >= self.settings.num_banks:
                return nodes
            if self.clock() >= deadline:
                raise ProtocolError(f"only {len(nodes)} of {self.settings.num_banks} banks connected in time")
            self.sleep(0.5)

    def exchange(self, kind: MessageKind, requests: dict[int, RecordDict], group: str) -> dict[int, RecordDict]:
        """Send one request per node and return every node's reply; raises on a missing or failed reply."""
        messages = [Message(content, dst_node_id=node, message_type=kind.value, group_id=group)
                    for node, content in requests.items()]
        self.traffic.sent += sum(records.payload_bytes(c) for c in requests.values())
        self.traffic.messages += len(messages)
        replies: dict[int, RecordDict] = {}
        for msg in self._send_and_receive(messages):
            node = msg.metadata.src_node_id
            who = self.names.get(node, f"node {node}")
            if msg.has_error():
                raise ProtocolError(f"{who} failed {kind.value}: {msg.error.reason}")
            self.traffic.received += records.payload_bytes(msg.content)
            replies[node] = msg.content
        missing = sorted(set(requests) - set(replies))
        if missing:
            names = [self.names.get(n, f"node {n}") for n in missing]
            raise ProtocolError(f"no reply to {kind.value} within {self.settings.round_timeout}s from {names}")
        for node, content in replies.items():
            self.names[node] = records.str_field(content, records.REPLY, "bank")
        return replies

    def _send_and_receive(self, messages: list[Message]) -> list[Message]:
        """Push, then pull every PULL_INTERVAL s until all replies are in or the round timeout passes.

        Flower's HTTP grid pulls every 3 s in its own send_and_receive; rounds are short, so poll faster.
        """
        pending = set(self.grid.push_messages(messages))
        deadline = self.clock() + self.settings.round_timeout
        received: list[Message] = []
        while pending:
            got = list(self.grid.pull_messages(pending))
            received.extend(got)
            pending -= {m.metadata.reply_to_message_id for m in got}
            if not pending or self.clock() >= deadline:
                break
            self.sleep(PULL_INTERVAL)
        return received

    # -- protocol -------------------------------------------------------------------------------
    def setup(self, nodes: list[int]) -> tuple[str, AggregatorCkks, bytes | None]:
        replies = self.exchange(MessageKind.SETUP, {n: records.job() for n in nodes}, "setup")
        fingerprint = agree_on_key([records.str_field(replies[n], records.REPLY, "fingerprint") for n in nodes])
        contexts = {records.bytes_field(replies[n], records.REPLY, "context") for n in nodes}
        if len(contexts) != 1:
            raise ProtocolError("banks sent different CKKS parameter contexts")
        ckks = AggregatorCkks(contexts.pop())
        quantiles_sum = None
        if self.settings.model == "logistic":
            quantiles_sum = ckks.add([records.bytes_field(replies[n], records.REPLY, "quantiles") for n in nodes])
        return fingerprint, ckks, quantiles_sum

    def _figures(self, replies: dict[int, RecordDict]) -> dict[str, dict[str, float]]:
        return {self.names[n]: records.figures_of(c) for n, c in replies.items()}

    def resume_point(self, key_fingerprint: str) -> RoundState | None:
        """The saved state to continue from (None: start at round 1); refuses one made under another key
        or other settings."""
        saved = self.checkpoints.latest() if self.checkpoints is not None else None
        if saved is None:
            return None
        if saved.key_fingerprint != key_fingerprint:
            raise ProtocolError("the round checkpoint was made under another bank key: remove checkpoint-dir "
                                "to start over")
        if saved.settings != settings_fingerprint(self.settings):
            raise ProtocolError("the round checkpoint was made with other training settings: remove "
                                "checkpoint-dir to start over")
        return saved

    def _save(self, round_number: int, rounds: list[dict[str, Any]], *, model_sum: bytes | None = None,
              sealed: bytes | None = None) -> None:
        if self.checkpoints is None:
            return
        self.checkpoints.save(RoundState(
            round_number, self._key_fingerprint, settings_fingerprint(self.settings), rounds,
            {"sent": self.traffic.sent, "received": self.traffic.received, "messages": self.traffic.messages},
            model_sum=model_sum, sealed=sealed, origin_run=self._origin_run))

    def run(self) -> FederationResult:
        started = self.clock()
        nodes = self.wait_for_banks()
        fingerprint, ckks, quantiles_sum = self.setup(nodes)
        self._key_fingerprint = fingerprint
        saved = self.resume_point(fingerprint)
        rounds: list[dict[str, Any]] = list(saved.rounds) if saved else []
        if saved is not None:  # the report counts the traffic of every run that built the model
            self.traffic.sent += saved.traffic.get("sent", 0)
            self.traffic.received += saved.traffic.get("received", 0)
            self.traffic.messages += saved.traffic.get("messages", 0)
        start = saved.round if saved else 0
        self._origin_run = saved.origin_run if saved else self.grid.run.run_id
        round_started = self.clock()
        if self.settings.model == "logistic":
            assert quantiles_sum is not None
            publish = self._train_logistic(nodes, ckks, quantiles_sum, rounds, start=start,
                                           model_sum=saved.model_sum if saved else None)
        else:
            publish = self._train_cyclic(nodes, rounds, start=start, sealed=saved.sealed if saved else None)
        round_seconds = self.clock() - round_started
        final = self.exchange(MessageKind.PUBLISH, {n: publish for n in nodes}, "publish")
        publications = {self.names[n]: records.publication_from(c) for n, c in final.items()}
        report = self._report(fingerprint, rounds, publications, self.clock() - started, round_seconds)
        report["resumed_from_round"] = start
        model = self._model(publications, report)
        report["model_sha256"] = None  # filled by whoever writes the model file
        return FederationResult(model, report, self.traffic)

    def _train_logistic(self, nodes: list[int], ckks: AggregatorCkks, quantiles_sum: bytes,
                        rounds: list[dict[str, Any]], *, start: int = 0, model_sum: bytes | None = None) -> RecordDict:
        """All banks every round after `start` (whose model sum is given); returns the publish request."""
        for r in range(start + 1, self.settings.rounds + 1):
            # Round 1 starts from the deciles alone; later sums carry deciles and weights together.
            request = records.job(round=r, **({"quantiles-sum": quantiles_sum} if model_sum is None
                                              else {"model-sum": model_sum}))
            replies = self.exchange(MessageKind.TRAIN_LOGISTIC, {n: request for n in nodes}, f"round-{r}")
            # The one operation the aggregator performs on bank data: adding ciphertexts.
            model_sum = ckks.add([records.bytes_field(replies[n], records.REPLY, "payload") for n in nodes])
            rounds.append({"round": r, "banks": self._figures(replies)})
            self._save(r, rounds, model_sum=model_sum)
        return records.job(**{"model-sum": model_sum})

    def _train_cyclic(self, nodes: list[int], rounds: list[dict[str, Any]], *, start: int = 0,
                      sealed: bytes | None = None) -> RecordDict:
        """One bank per round in name order, relaying the sealed booster (that of round `start` given);
        returns the publish request."""
        order = sorted(nodes, key=lambda n: self.names[n])
        for r in range(start + 1, self.settings.rounds + 1):
            node = order[(r - 1) % len(order)]
            request = records.job(round=r, sealed=sealed, **{"origin-run": self._origin_run})
            replies = self.exchange(MessageKind.TRAIN_XGBOOST, {node: request}, f"round-{r}")
            sealed = records.bytes_field(replies[node], records.REPLY, "payload")
            rounds.append({"round": r, "banks": self._figures(replies)})
            self._save(r, rounds, sealed=sealed)
        return records.job(round=self.settings.rounds, sealed=sealed, **{"origin-run": self._origin_run})

    # -- results --------------------------------------------------------------------------------
    def _strategy(self) -> str:
        return self.settings.logistic.strategy if self.settings.model == "logistic" else "cyclic"

    def _privacy(self, rounds: list[dict[str, Any]]) -> dict[str, Any] | None:
        p = self.settings.privacy
        if p is None or self.settings.model != "logistic":
            return None
        spent = [f.get("epsilon", 0.0) for r in rounds for f in r["banks"].values()]
        return {"mechanism": "dp-sgd (record level, per bank)", "noise_multiplier": p.noise_multiplier,
                "clip_norm": p.clip_norm, "delta": p.delta, "epsilon": max(spent, default=0.0),
                "accountant": "rdp, poisson-sampled gaussian"}

    def _report(self, fingerprint: str, rounds: list[dict[str, Any]], pubs: dict[str, Publication],
                seconds: float, round_seconds: float) -> dict[str, Any]:
        for entry in rounds:
            figs = [f for f in entry["banks"].values() if "holdout-auc" in f]
            entry["holdout_auc_of_incoming_model"] = (
                weighted_mean([f["holdout-auc"] for f in figs], [f["holdout-rows"] for f in figs]) if figs else None)
        final = {name: p.figures for name, p in sorted(pubs.items())}
        return {
            "model": self.settings.model, "strategy": self._strategy(),
            "aggregation": "ckks-sum" if self.settings.model == "logistic" else "sealed-relay (aes-256-gcm)",
            "rounds": self.settings.rounds, "banks": sorted(pubs), "key_fingerprint": fingerprint,
            "per_round": rounds, "final": {"banks": final, "holdout_auc": weighted_mean(
                [f["holdout-auc"] for f in final.values()], [f["holdout-rows"] for f in final.values()])},
            "privacy": self._privacy(rounds),
            "bytes_sent": self.traffic.sent, "bytes_received": self.traffic.received,
            "bytes_on_wire": self.traffic.total, "messages": self.traffic.messages,
            "seconds": seconds, "seconds_per_round": round_seconds / self.settings.rounds,
        }

    def _model(self, pubs: dict[str, Publication], report: dict[str, Any]) -> GlobalModel:
        names = sorted(pubs)
        first = pubs[names[0]]
        for name in names[1:]:
            other = pubs[name]
            if (first.feature_names, first.bin_edges, first.booster) != (
                    other.feature_names, other.bin_edges, other.booster) or not np.allclose(
                    first.weights, other.weights, rtol=0.0, atol=PUBLICATION_TOLERANCE):
                raise PublicationMismatchError(f"{names[0]} and {name} published different models")
        training = {k: report[k] for k in ("strategy", "aggregation", "rounds", "banks", "privacy")}
        training["holdout"] = report["final"]
        return GlobalModel(kind=self.settings.model, feature_names=first.feature_names, training=training,
                           created_at=now_iso(), weights=tuple(float(w) for w in first.weights),
                           bin_edges=first.bin_edges, booster=first.booster)
