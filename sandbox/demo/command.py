"""`xyd demo`'s command line: parsed without importing the demo, which loads pandas and XGBoost."""

from __future__ import annotations

import argparse

DEFAULT_SOURCES = ("tax", "social_insurance", "utilities", "housing_fund")


def _run(args: argparse.Namespace) -> int:
    from sandbox.demo.run import run_demo

    return run_demo(args)


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the end-to-end federation on loopback")
    demo.add_argument("--enterprises", type=int, default=20_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--trees", type=int, default=60, help="most SecureBoost trees (early stopping ends sooner)")
    demo.add_argument("--key-bits", type=int, default=2048, help="Paillier modulus size (2048 or more)")
    demo.add_argument("--sources", default=",".join(DEFAULT_SOURCES), help="comma-separated source units")
    demo.add_argument("--state-dir", default=None, help="keep state (PKI, data, logs) in this folder")
    demo.add_argument("--keep-state", action="store_true", help="do not delete the temporary state folder")
    demo.add_argument("--skip-banks", action="store_true", help="leave out the Flower run among banks")
    demo.add_argument("--keep-running", action="store_true",
                      help="leave the federation up, print the web console's address and a login for each "
                           "role, and write endpoints.json (API URL, demo credentials)")
    demo.set_defaults(func=_run)


