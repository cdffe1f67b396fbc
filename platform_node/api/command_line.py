"""The parser of `xyd institution ...` and `xyd api serve`, built without importing the API: the handlers in
`platform_node.api.cli` load when their subcommand runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from federation.command_line import LazyChoices


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from platform_node.api import cli

        return cli._guarded(getattr(cli, name))(args)

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd institution ...` and `xyd api serve`."""
    inst = subparsers.add_parser("institution", help="onboard and manage API institutions")
    sub = inst.add_subparsers(dest="institution_command", metavar="ACTION")
    sub.required = True

    def command(name: str, func: str, help_text: str, *, needs_id: bool = True) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("--config", required=True, help="TOML file with an [api] table")
        if needs_id:
            parser.add_argument("institution_id", help="kind/slug, e.g. bank/icbc-sz")
        parser.set_defaults(func=_handler(func))
        return parser

    add = command("add", "_add", "onboard an institution and print its first API key", needs_id=False)
    add.add_argument("--kind", required=True, choices=LazyChoices("platform_node.institutions.model:InstitutionKind"),
                     metavar="KIND", help="the institution kind (an invalid one lists the valid kinds)")
    add.add_argument("--slug", required=True, help="lowercase id, e.g. icbc-sz")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--role", required=True, choices=LazyChoices("platform_node.institutions.model:Role"),
                     metavar="ROLE", help="bank, compliance, admin or statistics (an invalid one lists the valid roles)")
    add.add_argument("--rate", type=float, help="requests per second")
    add.add_argument("--burst", type=int, help="burst size")
    add.add_argument("--daily-quota", type=int, help="enterprises scored per UTC day")
    command("list", "_list", "list institutions", needs_id=False)
    command("suspend", "_suspend", "refuse every request of an institution")
    command("reinstate", "_reinstate", "lift a suspension")
    command("rotate-key", "_rotate", "issue a new API key and revoke the old ones")
    agreement = command("agreement", "_agreement", "record a data-security agreement")
    agreement.add_argument("--scope", action="append", required=True, choices=LazyChoices("platform_node.institutions.agreements:AgreementScope"),
                           metavar="SCOPE", help="a bulk service the agreement covers (repeatable)")
    agreement.add_argument("--reference", required=True, help="the signed agreement's reference")
    agreement.add_argument("--not-before", required=True, help="RFC 3339 time")
    agreement.add_argument("--not-after", required=True, help="RFC 3339 time")

    api = subparsers.add_parser("api", help="the platform's bank and compliance HTTP API")
    api_sub = api.add_subparsers(dest="api_command", metavar="ACTION")
    api_sub.required = True
    serve_parser = api_sub.add_parser("serve", help="serve the HTTP API until SIGTERM")
    serve_parser.add_argument("--config", required=True, help="TOML file with an [api] table")
    serve_parser.set_defaults(func=_handler("_serve"))


