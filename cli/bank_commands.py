"""`xyd bank ...`: a bank's consent and verification tool over the platform's HTTP API (`cli/bank_http.py`).

    register-keys    bind the bank's request-signing and answer-sealing keys to its certificate, give them
    catalogue        the data items consent requests may name
    request-consent  ask an enterprise for consent
    consent          follow one consent request (status, the enterprise-signed artefact once approved)
    verify           sign checks under an approved consent, relay them, open and check the sealed answers
    report           an enterprise's public-information report (self-declared information apart, flagged)
    declaration      an enterprise's self-declared information under a consent naming it

The bank's profile (TOML) names the API, its API key file, the folder of its application keys (created on
first use, 0600) and its certificate from the federation CA:

    api = "https://xyd.example/"
    api_key_file = "bank.apikey"
    keys_dir = "keys"
    [tls]
    ca = "pki/ca.pem"
    cert = "pki/cert.pem"
    key = "pki/key.pem"
    crl = "pki/crl.pem"        # optional
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from errors import ConfigurationError

PROFILE_ENV = "XYD_BANK_PROFILE"


def open_bank(args: argparse.Namespace):
    """The bank's HTTP client from its profile."""
    from cli.bank_http import BankHttpClient
    from cli.bank_keys import BankKeys
    from federation.pki import NodeTls

    path = Path(args.profile or os.environ.get(PROFILE_ENV) or "")
    if not args.profile and not os.environ.get(PROFILE_ENV):
        raise ConfigurationError(f"name the bank's profile with --profile or {PROFILE_ENV}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"no bank profile at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None

    def local(value: str) -> Path:
        found = Path(value)
        return found if found.is_absolute() else path.parent / found

    try:
        tls = raw["tls"]
        api_key = local(raw["api_key_file"]).read_text(encoding="utf-8").splitlines()[0].strip()
        credentials = NodeTls.load(local(tls["ca"]), local(tls["cert"]), local(tls["key"]),
                                   local(tls["crl"]) if tls.get("crl") else None)
        return BankHttpClient(str(raw["api"]), api_key, keys=BankKeys.load_or_create(local(raw["keys_dir"])),
                              tls=credentials)
    except KeyError as exc:
        raise ConfigurationError(f"{path} lacks {exc.args[0]} (api, api_key_file, keys_dir, [tls])") from None


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _register_keys(args: argparse.Namespace) -> int:
    with open_bank(args) as bank:
        _print(bank.register_keys())
    return 0


def _catalogue(args: argparse.Namespace) -> int:
    with open_bank(args) as bank:
        _print(bank.catalogue())
    return 0


def _request_consent(args: argparse.Namespace) -> int:
    options = {k: v for k, v in (("mode", args.mode), ("valid_days", args.valid_days), ("max_uses", args.max_uses),
                                 ("data_range", args.data_range)) if v is not None}
    with open_bank(args) as bank:
        _print(bank.request_consent(args.credit_code, args.item, purpose=args.purpose,
                                    loan_application_ref=args.loan_ref, **options))
    return 0


def _consent(args: argparse.Namespace) -> int:
    with open_bank(args) as bank:
        _print(bank.consent_request(args.request_id))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from cli.bank_http import BankApiError, parse_check

    checks = [parse_check(text) for text in args.check]
    with open_bank(args) as bank:
        request = bank.consent_request(args.request_id)
        signed = [bank.sign(request, provider, question) for provider, question in checks]
        results = bank.send(request["authorisation_id"], signed)
        trust = bank.log_trust() if args.receipts else None
        out = []
        for (provider, question), result in zip(checks, results, strict=True):
            line: dict[str, Any] = {"request_id": result.request_id, "provider": provider,
                                    "question": question.to_json()}
            if result.answer is None:
                line["refused"] = result.refusal
            else:
                value = result.answer.result
                line["result"] = value.to_json() if hasattr(value, "to_json") else value
                line["use_number"] = result.answer.use_number
            line["leaves"] = [r["index"] for r in result.receipts]
            if trust is not None:
                try:
                    line["receipts_verified"] = all(bank.check_receipt(i, trust).use_id == result.request_id
                                                    for i in line["leaves"])
                except BankApiError as exc:
                    line["receipts_verified"] = exc.code  # e.g. NOT_YET_CHECKPOINTED: ask again later
            out.append(line)
    _print(out)
    return 0 if all("refused" not in line for line in out) else 1


def _report(args: argparse.Namespace) -> int:
    with open_bank(args) as bank:
        _print(bank.report(args.credit_code, purpose=args.purpose))
    return 0


def _declaration(args: argparse.Namespace) -> int:
    with open_bank(args) as bank:
        _print(bank.declaration(args.credit_code, args.request_id))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd bank ...`."""
    parser = subparsers.add_parser("bank", help="a bank's consent requests and verifications over HTTP")
    sub = parser.add_subparsers(dest="bank_command", metavar="ACTION")
    sub.required = True

    def command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=help_text)
        command_parser.add_argument("--profile", help=f"the bank's profile (TOML; or {PROFILE_ENV})")
        command_parser.set_defaults(func=func)
        return command_parser

    command("register-keys", _register_keys, "bind the bank's keys to its certificate and register them")
    command("catalogue", _catalogue, "data items consent requests may name")
    ask = command("request-consent", _request_consent, "ask an enterprise for consent")
    ask.add_argument("--credit-code", required=True)
    ask.add_argument("--item", action="append", required=True, help="a data item provider:field (repeat)")
    ask.add_argument("--purpose", required=True, help="e.g. PRE_LOAN_REVIEW")
    ask.add_argument("--loan-ref", required=True, help="the loan application reference")
    ask.add_argument("--mode", help="VERIFY (default), QUERY, MONITOR or JOINT_MODEL")
    ask.add_argument("--valid-days", type=int)
    ask.add_argument("--max-uses", type=int)
    ask.add_argument("--data-range", action="append", help="a period the bank may ask about (repeat)")
    command("consent", _consent, "one consent request and its consent").add_argument("request_id")
    verify = command("verify", _verify, "verify under an approved consent (answers opened and checked here)")
    verify.add_argument("request_id", help="the consent request (approved)")
    verify.add_argument("--check", action="append", required=True,
                        help="provider:question, e.g. 'source/tax:revenue_12m_cny >= 1000000', "
                             "'source/tax:revenue_12m_cny ~= 1200000 +- 50000', 'source/tax:raw taxpayer_grade'")
    report = command("report", _report, "an enterprise's public-information report")
    report.add_argument("credit_code")
    report.add_argument("--purpose", default="PRE_LOAN_REVIEW")
    declaration = command("declaration", _declaration, "self-declared information under a consent")
    declaration.add_argument("credit_code")
    declaration.add_argument("--request", dest="request_id", required=True, help="the approved consent request")
    verify.add_argument("--receipts", action="store_true",
                        help="also check each leaf's inclusion proof under a cosigned checkpoint")
