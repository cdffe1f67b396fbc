"""A training stopped after any tree and resumed from every party's checkpoint gives the uninterrupted model."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import numpy as np
import pytest

from federation.channel import InMemoryHub
from models.secureboost import SecureBoostParams, run_active, run_passive
from models.secureboost.active import Validation
from models.secureboost.binning import FeatureTable
from models.secureboost.errors import ProtocolError
from models.secureboost.model import ActiveModel, PassiveModel
from tests.models.secureboost.support import same_trees, synthetic

ACTIVE = "platform/main"
KEYS = {ACTIVE: b"a" * 32, "source/tax": b"t" * 32, "source/power": b"p" * 32}


class Interrupted(Exception):
    pass


def _train(params: SecureBoostParams, y: np.ndarray, own: FeatureTable, passives: Mapping[str, FeatureTable], *,
           resume: Mapping[str, bytes] | None = None, stop_after: int | None = None,
           keys: Mapping[str, bytes] = KEYS, validation: tuple[Validation, dict[str, FeatureTable]] | None = None,
           ) -> tuple[ActiveModel | None, dict[str, PassiveModel], dict[str, dict[int, bytes]]]:
    """Train over an in-memory hub, keeping every party's checkpoints; with `stop_after`, the active party
    fails right after saving that tree's checkpoint (as a crash would), which ends the passive parties too."""
    hub = InMemoryHub((ACTIVE, *passives))
    saved: dict[str, dict[int, bytes]] = {p: {} for p in hub.parties}
    parts: dict[str, PassiveModel] = {}

    def keep(party: str):
        def on_checkpoint(unit: int, state: bytes) -> None:
            saved[party][unit] = state
            if party == ACTIVE and unit == stop_after:
                raise Interrupted
        return on_checkpoint

    def passive(name: str) -> None:
        try:
            parts[name] = run_passive(hub.channel(name), ACTIVE, features=passives[name], allow_plaintext=True,
                                      split_key=keys[name], timeout=5,
                                      validation=None if validation is None else validation[1][name],
                                      resume=(resume or {}).get(name), on_checkpoint=keep(name))
        except Exception:
            pass  # the active party's crash closed the mailbox this party waits on

    threads = [threading.Thread(target=passive, args=(n,), daemon=True) for n in passives]
    for t in threads:
        t.start()
    model = None
    try:
        model = run_active(hub.channel(ACTIVE), list(passives), params=params, labels=y, features=own,
                           split_key=keys[ACTIVE], timeout=5, resume=(resume or {}).get(ACTIVE),
                           validation=None if validation is None else validation[0], on_checkpoint=keep(ACTIVE))
    except Interrupted:
        # The verdict went out before the crash: let the passive parties save it, then end their wait.
        deadline = time.monotonic() + 10
        while any(stop_after not in saved[n] for n in passives) and time.monotonic() < deadline:
            time.sleep(0.01)
        for name in passives:
            hub.mailbox(name).close("the active party crashed")
    for t in threads:
        t.join(10)
    return model, parts, saved


def _same_parts(a: Mapping[str, PassiveModel], b: Mapping[str, PassiveModel]) -> None:
    assert set(a) == set(b)
    for name in a:
        assert a[name].to_bytes() == b[name].to_bytes()


@pytest.mark.parametrize("options", [
    {},
    {"subsample": 0.7, "colsample_bytree": 0.6},
    {"goss_top_rate": 0.3, "goss_other_rate": 0.2},
])
def test_resuming_after_any_tree_gives_the_uninterrupted_model(options: dict) -> None:
    y, own, passives = synthetic(600, seed=3, missing_rate=0.05)
    params = SecureBoostParams(n_trees=4, max_depth=3, bins=16, encryption=False, seed=11, **options)
    reference, reference_parts, saved = _train(params, y, own, passives)
    assert reference is not None and all(sorted(s) == [1, 2, 3, 4] for s in saved.values())
    for unit in (1, 2, 3):
        interrupted, _, partial = _train(params, y, own, passives, stop_after=unit)
        assert interrupted is None
        resumed, parts, _ = _train(params, y, own, passives, resume={p: s[unit] for p, s in partial.items()})
        assert resumed is not None
        same_trees(resumed, reference)
        assert resumed.to_bytes() == reference.to_bytes()
        _same_parts(parts, reference_parts)


@pytest.mark.parametrize("objective", [{"objective": "multi:softprob", "num_class": 3},
                                       {"objective": "reg:squarederror"}])
def test_resuming_softmax_and_regression_gives_the_uninterrupted_model(objective: dict) -> None:
    """Vector leaves and one margin per class survive the checkpoint bit for bit."""
    y, own, passives = synthetic(500, seed=4)
    if objective.get("num_class"):
        y = y + (own.values[:, 1] > 0.5)  # three classes: 0, 1, 2
    params = SecureBoostParams(n_trees=3, max_depth=2, bins=8, encryption=False, seed=5, **objective)
    reference, reference_parts, _ = _train(params, y, own, passives)
    assert reference is not None
    _, _, partial = _train(params, y, own, passives, stop_after=2)
    resumed, parts, _ = _train(params, y, own, passives, resume={p: s[2] for p, s in partial.items()})
    assert resumed is not None and resumed.to_bytes() == reference.to_bytes()
    _same_parts(parts, reference_parts)


def test_resuming_with_early_stopping_keeps_the_validation_state() -> None:
    y, own, passives = synthetic(800, seed=5)
    yv, own_v, passives_v = synthetic(300, seed=6)
    params = SecureBoostParams(n_trees=6, max_depth=2, bins=8, encryption=False, early_stopping_rounds=2,
                               eval_metric="auc", seed=2)
    validation = (Validation(own_v, yv), passives_v)
    reference, reference_parts, saved = _train(params, y, own, passives, validation=validation)
    assert reference is not None
    last = max(saved[ACTIVE])
    for unit in range(1, last + 1):
        resumed, parts, _ = _train(params, y, own, passives, validation=validation,
                                   resume={p: s[unit] for p, s in saved.items()})
        assert resumed is not None and resumed.to_bytes() == reference.to_bytes()
        _same_parts(parts, reference_parts)


def test_a_checkpoint_of_another_training_is_refused() -> None:
    y, own, passives = synthetic(300, seed=1)
    params = SecureBoostParams(n_trees=2, max_depth=2, bins=8, encryption=False, seed=1)
    _, _, saved = _train(params, y, own, passives)
    other = SecureBoostParams(n_trees=3, max_depth=2, bins=8, encryption=False, seed=1)
    hub = InMemoryHub((ACTIVE, *passives))
    with pytest.raises(ProtocolError, match="checkpoint of this training"):
        run_active(hub.channel(ACTIVE), list(passives), params=other, labels=y, features=own, timeout=1,
                   resume=saved[ACTIVE][1])
    with pytest.raises(ProtocolError, match="checkpoint role"):
        run_active(InMemoryHub((ACTIVE, *passives)).channel(ACTIVE), list(passives), params=params, labels=y,
                   features=own, timeout=1, resume=saved["source/tax"][1])
