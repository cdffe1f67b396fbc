"""`xyd audit`'s command line, built without importing the audit library (SQLAlchemy, gRPC, the log): the
handlers in `cli.compliance.commands` load when their subcommand runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from federation.command_line import LazyChoices

CONFIG_ENV = "XYD_AUDIT_CONFIG"  # the officer's config file when --config is not given


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from cli.compliance import commands

        return commands.usage_errors_reported(getattr(commands, name))(args)

    return run


def _listing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--enterprise", help="unified social credit code")
    parser.add_argument("--institution", help="grantee / requesting institution, e.g. bank/icbc-sz")
    parser.add_argument("--source", help="source unit, e.g. source/tax")
    parser.add_argument("--since", help="period start (ISO date or time, UTC), inclusive")
    parser.add_argument("--until", help="period end, exclusive")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--out", help="write the report to this file (the export is logged)")
    parser.add_argument("--actor", default="admin/compliance", help="who exports (recorded in the log)")


def _trust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help=f"the officer's config file (default: ${CONFIG_ENV})")
    parser.add_argument("--log-vkey", help="the log's verifier key (name+id+base64); required here or in --config")
    parser.add_argument("--witness-vkey", action="append", default=[], help="a witness verifier key (repeatable)")
    parser.add_argument("--quorum", type=int, help="witnesses required (default: a strict majority)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd audit ...` to the `xyd` parser."""
    audit = subparsers.add_parser("audit", help="compliance: authorisations, uses, checkpoints, receipts")
    sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    sub.required = True

    def command(name: str, help_text: str, func: str, *, db: bool = True) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        if db:
            parser.add_argument("--db", required=True, help="registry database (path or SQLAlchemy URL)")
        parser.set_defaults(func=_handler(func))
        return parser

    p = command("authorisations", "list authorisations", "_authorisations")
    _listing_options(p)
    p.add_argument("--status", choices=LazyChoices("consent.authorisation:Status"), metavar="STATUS",
                   help="an authorisation status, e.g. ACTIVE (an invalid one lists them all)")
    _output_options(p)
    p = command("uses", "list logged uses", "_uses")
    _listing_options(p)
    p.add_argument("--authorisation", help="authorisation id")
    p.add_argument("--kind", action="append", choices=LazyChoices("consent.audit:EventKind"), metavar="KIND",
                   help="event kinds (repeatable; default: every kind of use)")
    _output_options(p)
    p = command("verify-chain", "prove the stored log extends every checkpoint held inside and outside it",
                "_verify_chain")
    _trust_options(p)
    p.add_argument("--state", help="the officer's last verified checkpoints (default: [log] state, or "
                                   "audit-state.json in the user's config directory)")
    p.add_argument("--saved", action="append", default=[], help="a checkpoint note kept by the officer (repeatable)")
    p.add_argument("--receipt", action="append", default=[], help="a bank's inclusion receipt file (repeatable)")
    p.add_argument("--offline", action="store_true", help="do not ask the witnesses (weaker: see the warning)")
    p.add_argument("--max-witness-age-s", type=float, help="a witness answer cosigned longer ago does not count")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each witness")
    p.add_argument("--now", help="the time witness answers are judged at (ISO; default: now)")
    p.add_argument("--no-rows", action="store_true", help="skip recomputing the stored rows")
    p.add_argument("--merged-vkey", action="append", default=[],
                   help="the key of a log merged into this one (the platform API's former log key), to check the "
                        "archive's own checkpoint signatures too (repeatable)")
    p = command("receipt", "issue the inclusion receipt of one leaf", "_receipt")
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--out", help="write the receipt JSON here")
    p = command("verify-receipt", "verify an inclusion receipt file", "_verify_receipt", db=False)
    p.add_argument("receipt", help="receipt JSON file")
    _trust_options(p)
    p = command("cross-check", "compare a source node's own log with the registry's", "_cross_check")
    p.add_argument("--source-db", required=True, help="the source node's verification database")
    p.add_argument("--source", required=True, help="the source unit, e.g. source/tax")
    _trust_options(p)
    p = command("keys", "print the log's and the witnesses' keys for the officer's config", "_keys", db=False)
    p.add_argument("--platform", required=True, help="the platform's address (host:port)")
    p.add_argument("--config", help=f"the officer's config file, for its [tls] (default: ${CONFIG_ENV})")
    p = command("overdue", "uses whose feedback is past due", "_overdue")
    p.add_argument("--now", help="evaluate deadlines at this time (default: now)")
    _output_options(p)


