"""The one `xyd` command: each role contributes its subcommands through the `xyd.commands` entry points."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from cli.parent_watch import die_with_parent_if_asked
from errors import ConfigurationError, InvalidInput, XydError


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from every installed role's `register(subparsers)` hook."""
    parser = argparse.ArgumentParser(prog="xyd", description="Privacy-preserving credit computation (信易贷).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for ep in sorted(entry_points(group="xyd.commands"), key=lambda e: e.name):
        ep.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent_if_asked()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ConfigurationError as exc:  # the operator's to fix: say what, without a traceback
        print(f"xyd: configuration error: {exc}", file=sys.stderr)
        return 2
    except XydError as exc:  # a routine failure (bad input, unreachable peer, refused): one line, no trace
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidInput) else 1
    except FileNotFoundError as exc:
        print(f"error: no such file: {exc.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
