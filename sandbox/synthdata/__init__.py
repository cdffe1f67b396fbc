"""Synthetic enterprise data for demos and tests: source-unit tables driven by a latent creditworthiness.

Names are loaded on first use (PEP 562), so `xyd data --help` does not import pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"MANIFEST_NAME": "sandbox.synthdata.city", "Manifest": "sandbox.synthdata.city",
          "UnitFile": "sandbox.synthdata.city", "generate": "sandbox.synthdata.city",
          "LABEL_COLUMN": "sandbox.synthdata.units.platform"}

__all__ = ["LABEL_COLUMN", "MANIFEST_NAME", "Manifest", "UnitFile", "generate"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
