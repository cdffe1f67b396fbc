"""Subcommands of `xyd` that cost nothing until they run: handlers and enum choices loaded on first use.

`xyd --help` builds every package's parser; a parser that imported its handlers' modules (SQLAlchemy,
pandas, XGBoost, FastAPI) made every `xyd` command take seconds to start.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def lazy_handler(target: str) -> Callable[[argparse.Namespace], int]:
    """The handler `"package.module:function"`, imported when its subcommand runs."""

    def run(args: argparse.Namespace) -> int:
        return int(_load(target)(args) or 0)

    run.__qualname__ = f"lazy_handler({target})"
    return run


class LazyChoices:
    """The values of an enum `"package.module:Enum"` as argparse `choices`, imported only when argparse
    checks a value. Give the argument a `metavar`: without one argparse lists the choices as soon as the
    argument is added."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._values: list[str] | None = None

    def _all(self) -> list[str]:
        if self._values is None:
            self._values = [member.value for member in _load(self._target)]
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
