"""`xyd data synth`: write a synthetic city's source-unit tables, schemas and platform table."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `synth` to the given subparsers (those of the `xyd data` command group)."""
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic enterprise data for every source unit and the platform",
        description="Write one CSV + TOML schema per source unit, platform.csv with the default label, "
        "and manifest.json. Deterministic for a given seed.",
    )
    parser.add_argument("--enterprises", type=int, required=True, help="number of platform customers")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    parser.add_argument("--outsider-rate", type=float, default=0.1,
                        help="extra enterprises known only to source units, as a share of --enterprises (0.1)")
    parser.add_argument("--default-rate", type=float, default=0.08, help="target mean default rate (0.08)")
    parser.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from sandbox.synthdata.city import generate  # pandas and numpy: only when data is generated

    if args.enterprises < 1:
        print("error: --enterprises must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        manifest = generate(args.enterprises, args.seed, args.out, outsider_rate=args.outsider_rate,
                            default_rate=args.default_rate)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    print(f"wrote {args.out} in {seconds:.1f}s: {manifest.enterprises} platform enterprises "
          f"(+{manifest.outsiders} known only to units), default rate {manifest.default_rate:.1%}")
    for unit in (manifest.platform, *manifest.units):
        print(f"  {unit.name:<17} {unit.rows:>9} rows  {unit.table}  {unit.schema}")
    return 0


def register_data(subparsers: argparse._SubParsersAction) -> None:
    """Add the `xyd data` command group (`xyd data synth`) to the `xyd` parser."""
    data = subparsers.add_parser("data", help="synthetic enterprise data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    register(data_sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (`python -m sandbox.synthdata.cli synth ...`) (the same as `xyd data synth`)."""
    parser = argparse.ArgumentParser(prog="xyd data")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
