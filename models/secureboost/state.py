"""A trainer's state at a tree boundary: what `snapshot()` returns and `restore()` takes (see checkpoint.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from models.secureboost.model import SplitRule, TreeNodes

if TYPE_CHECKING:
    from models.secureboost.active import TreeRecord


@dataclass(frozen=True)
class PassiveState:
    """A passive party's (or the active party's own features') state after a verdict."""

    key: bytes
    trees: tuple[tuple[int, ...], ...]
    rules: Mapping[int, SplitRule]
    rng: Mapping[str, Any]


@dataclass(frozen=True)
class ActiveState:
    """The active party's state after a verdict."""

    trees: tuple[TreeNodes, ...]
    margin: np.ndarray
    valid_margin: np.ndarray | None
    best: tuple[float, int] | None
    history: tuple[TreeRecord, ...]
    stopped: bool
    rng: Mapping[str, Any]
    own: PassiveState
