"""Subcommands of the `xyd` CLI contributed by the source_node role."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this role's subcommands to the `xyd` parser."""
