"""The banks' Flower ClientApp: maps each message onto a step of `models.horizontal.Bank`.

Node config (per SuperNode, set by the bank's operator): `bank` (its name), `data-path` (its loan-book
table), `keyring-path` (the banks' shared keyring; the aggregator never has it).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from bank_federation import records
from bank_federation.records import JOB, MessageKind
from bank_federation.settings import RunSettings
from models.horizontal import Bank, BankKeyring, load_bank_table

app = ClientApp()


def bank_from_context(context: Context) -> tuple[Bank, RunSettings]:
    """Load this node's bank (table, keyring, held-out split) as the run's settings say."""
    node = context.node_config
    settings = RunSettings.from_run_config(context.run_config)
    table = load_bank_table(Path(str(node["data-path"])))
    keyring = BankKeyring.read(Path(str(node["keyring-path"])))
    bank = Bank(str(node["bank"]), table, keyring, holdout_fraction=settings.holdout_fraction, seed=settings.seed)
    return bank, settings


def _training_run(msg: Message, context: Context) -> int:
    """The Flower run whose boosters this training relays: this run, or the one a resumed run continues
    (the aggregator names it; bank_federation/checkpoint.py)."""
    origin = msg.content.config_records[JOB].get("origin-run") if JOB in msg.content.config_records else None
    return int(origin) if origin else context.run_id


def _action(kind: MessageKind) -> str:
    return kind.value.split(".", 1)[1]


@app.query(_action(MessageKind.SETUP))
def setup(msg: Message, context: Context) -> Message:
    bank, settings = bank_from_context(context)
    prepared = bank.setup(settings.bins if settings.model == "logistic" else None)
    content = records.reply(bank.name, fingerprint=prepared.fingerprint,
                            context=prepared.aggregator_context, quantiles=prepared.quantiles)
    return Message(content, reply_to=msg)


@app.train(_action(MessageKind.TRAIN_LOGISTIC))
def train_logistic(msg: Message, context: Context) -> Message:
    bank, settings = bank_from_context(context)
    # Fresh OS entropy, never the run's seed: DP noise the aggregator could regenerate protects nothing.
    rng = np.random.default_rng(secrets.randbits(128))
    step = bank.logistic_round(
        quantiles_sum=records.optional_bytes(msg.content, JOB, "quantiles-sum"),
        model_sum=records.optional_bytes(msg.content, JOB, "model-sum"),
        round_number=records.int_field(msg.content, JOB, "round"),
        bins=settings.bins, config=settings.logistic, privacy=settings.privacy, min_banks=settings.min_banks,
        rng=rng,
    )
    return Message(records.reply(bank.name, step.figures, payload=step.payload), reply_to=msg)


@app.train(_action(MessageKind.TRAIN_XGBOOST))
def train_xgboost(msg: Message, context: Context) -> Message:
    bank, settings = bank_from_context(context)
    step = bank.boosting_round(
        sealed=records.optional_bytes(msg.content, JOB, "sealed"), run_id=_training_run(msg, context),
        round_number=records.int_field(msg.content, JOB, "round"),
        config=settings.boosting,
    )
    return Message(records.reply(bank.name, step.figures, payload=step.payload), reply_to=msg)


@app.evaluate(_action(MessageKind.PUBLISH))
def publish(msg: Message, context: Context) -> Message:
    bank, settings = bank_from_context(context)
    if settings.model == "logistic":
        pub = bank.logistic_publish(
            model_sum=records.bytes_field(msg.content, JOB, "model-sum"),
            bins=settings.bins, min_banks=settings.min_banks,
        )
    else:
        pub = bank.boosting_publish(
            sealed=records.bytes_field(msg.content, JOB, "sealed"),
            run_id=_training_run(msg, context), last_round=records.int_field(msg.content, JOB, "round"),
        )
    return Message(records.reply(bank.name, pub.figures, **records.publication_fields(pub)), reply_to=msg)
