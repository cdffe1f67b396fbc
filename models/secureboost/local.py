"""Run every party of a training job in one process (threads over an in-memory hub): tests and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from federation.channel import InMemoryHub
from models.he.obfuscators import ObfuscatorSupply
from models.he.scheme import SecretKey
from models.secureboost.active import TreeRecord, Validation
from models.secureboost.binning import FeatureTable
from models.secureboost.cipher import GradientEncryptor
from models.secureboost.histogram import ColumnHistograms
from models.secureboost.model import ActiveModel, PassiveModel
from models.secureboost.params import SecureBoostParams
from models.secureboost.runner import run_active, run_passive


@dataclass
class InProcessResult:
    """Every party's model part, the hub (its `wire` holds every payload sent) and the per-tree records."""

    active: ActiveModel
    passives: dict[str, PassiveModel]
    hub: InMemoryHub
    history: list[TreeRecord] = field(default_factory=list)

    def bytes_on_wire(self) -> int:
        return sum(len(payload) for *_, payload in self.hub.wire)


def train_in_process(params: SecureBoostParams, labels: np.ndarray, active_features: FeatureTable,
                     passive_features: Mapping[str, FeatureTable], *, active: str = "platform/main",
                     secret: SecretKey | None = None, obfuscators: ObfuscatorSupply | None = None,
                     validation: Validation | None = None,
                     passive_validation: Mapping[str, FeatureTable] | None = None,
                     split_keys: Mapping[str, bytes] | None = None, sample_weight: np.ndarray | None = None,
                     allow_insecure_for_tests: bool = False, timeout: float = 120.0,
                     passive_columns: Mapping[str, ColumnHistograms] | None = None,
                     encryptor: GradientEncryptor | None = None) -> InProcessResult:
    """Train with the active party in this thread and each passive party in its own thread;
    `passive_columns` gives a passive party column workers for its histograms (column_workers.py), and
    `encryptor` the active party a ready cipher (its Ray workers: row_workers.py) instead of `secret`."""
    names = list(passive_features)
    hub = InMemoryHub((active, *names))
    keys = dict(split_keys or {})
    results: dict[str, PassiveModel] = {}
    errors: list[BaseException] = []

    def passive(name: str) -> None:
        try:
            results[name] = run_passive(
                hub.channel(name), active, features=passive_features[name],
                validation=(passive_validation or {}).get(name), allow_plaintext=not params.encryption,
                split_key=keys.get(name), allow_insecure_for_tests=allow_insecure_for_tests, timeout=timeout,
                columns=(passive_columns or {}).get(name))
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    threads = [threading.Thread(target=passive, args=(n,), name=f"passive-{n}", daemon=True) for n in names]
    for t in threads:
        t.start()
    history: list[TreeRecord] = []
    try:
        model = run_active(hub.channel(active), names, params=params, labels=labels, features=active_features,
                           secret=secret, obfuscators=obfuscators, encryptor=encryptor, sample_weight=sample_weight,
                           validation=validation, split_key=keys.get(active), on_tree=history.append,
                           timeout=timeout)
    finally:
        for t in threads:
            t.join(timeout)
    if errors:
        raise errors[0]
    return InProcessResult(model, results, hub, history)
