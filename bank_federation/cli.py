"""`xyd federate-banks`: run horizontal learning among banks, on a loopback Flower deployment or in-process.

The lead wires `register` into the `xyd` CLI; `python -m bank_federation.cli ...` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

SUMMARY_KEYS = ("model", "strategy", "aggregation", "banks", "rounds", "final", "privacy", "seconds",
                "seconds_per_round", "bytes_on_wire", "model_sha256", "deployment")


def _bank(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def _setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(raw)
        except ValueError:
            pass
    return key, {"true": True, "false": False}.get(raw.lower(), raw)


def run_config_from(args: argparse.Namespace) -> dict[str, Any]:
    """The Flower run config for these arguments (keys of app/pyproject.toml [tool.flwr.app.config])."""
    config: dict[str, Any] = {"model": args.model, "num-rounds": args.rounds, "num-banks": len(args.bank),
                              "min-banks": min(len(args.bank), args.min_banks)}
    if args.proximal_mu:
        config["proximal-mu"] = args.proximal_mu
    if args.dp_noise:
        config.update({"dp-noise-multiplier": args.dp_noise, "dp-clip-norm": args.dp_clip,
                       "dp-delta": args.dp_delta, "dp-max-epsilon": args.dp_max_epsilon})
    config.update(dict(args.set))
    return config


def run_in_process(banks: list[tuple[str, Path]], run_config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The same ServerApp driver and ClientApp through an in-process grid (no SuperLink, no TLS)."""
    from bank_federation.aggregator import BankFederation
    from bank_federation.client_app import app as client_app
    from bank_federation.inprocess import InProcessGrid
    from bank_federation.server_app import write_outputs
    from bank_federation.settings import RunSettings
    from models.horizontal import BankKeyring

    keyring_path = workdir / "keyring.json"
    BankKeyring.generate().write(keyring_path)
    nodes = [{"bank": name, "data-path": str(path), "keyring-path": str(keyring_path)} for name, path in banks]
    out = workdir / "out"
    config = {**run_config, "output-dir": str(out)}
    result = BankFederation(InProcessGrid(client_app, nodes, config), RunSettings.from_run_config(config)).run()
    write_outputs(result, out)
    return {**result.report, "output_dir": str(out), "deployment": "in-process grid (same ServerApp/ClientApp code)"}


def run_on_loopback(banks: list[tuple[str, Path]], run_config: dict[str, Any], workdir: Path,
                    timeout: float) -> dict[str, Any]:
    from bank_federation.deployment import BankSpec, LoopbackDeployment

    with LoopbackDeployment(workdir, [BankSpec(n, p) for n, p in banks]) as deployment:
        return deployment.run(run_config, timeout=timeout)


def federate_banks(args: argparse.Namespace) -> int:
    names = [n for n, _ in args.bank]
    if len(names) < 2 or len(set(names)) != len(names):
        print("error: need at least two banks with distinct names", file=sys.stderr)
        return 2
    for _, path in args.bank:
        if not path.exists():
            print(f"error: no table at {path}", file=sys.stderr)
            return 2
    config = run_config_from(args)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="xyd-banks-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.in_process:
        report = run_in_process(args.bank, config, workdir)
    else:
        report = run_on_loopback(args.bank, config, workdir, args.timeout)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("model.json", "report.json"):
            shutil.copy2(Path(report["output_dir"]) / name, out / name)
    print(json.dumps({k: report.get(k) for k in SUMMARY_KEYS}, indent=1, default=str))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `federate-banks` to the `xyd` parser."""
    p = subparsers.add_parser(
        "federate-banks", help="train a common risk model across banks (Flower, CKKS-encrypted aggregation)",
        description="Start a SuperLink and one SuperNode per bank on loopback (TLS, node authentication), "
                    "run the horizontal app, and write model.json and report.json.")
    p.add_argument("--bank", action="append", type=_bank, required=True, metavar="NAME=PATH",
                   help="a bank and its loan-book CSV (id, y, variables); repeat per bank")
    p.add_argument("--model", choices=("logistic", "xgboost"), default="logistic")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-banks", type=int, default=2, help="banks refuse aggregates of fewer contributions")
    p.add_argument("--proximal-mu", type=float, default=0.0, help="> 0 selects FedProx")
    p.add_argument("--dp-noise", type=float, default=0.0, help="DP-SGD noise multiplier (0: no DP)")
    p.add_argument("--dp-clip", type=float, default=1.0)
    p.add_argument("--dp-delta", type=float, default=1e-5)
    p.add_argument("--dp-max-epsilon", type=float, default=0.0, help="banks refuse to pass it (0: no limit)")
    p.add_argument("--set", action="append", type=_setting, default=[], metavar="KEY=VALUE",
                   help="any other run-config key of bank_federation/app/pyproject.toml")
    p.add_argument("--in-process", action="store_true", help="simulate in one process (no SuperLink)")
    p.add_argument("--workdir", help="deployment folder (default: a new temporary folder)")
    p.add_argument("--out", help="copy model.json and report.json here")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds the run may take")
    p.set_defaults(func=federate_banks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xyd")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
