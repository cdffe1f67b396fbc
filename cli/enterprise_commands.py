"""`xyd enterprise ...`: an enterprise's own tool. The signing key is created and kept here, in a key file on
the enterprise's side; the platform only ever receives public keys, proofs and signatures.

    init      create the key file (0600) and the profile (platform URL, credit code)
    signup    prove who the enterprise is (identity provider credential) and bind the key
    account   show the account and its keys
    rotate    replace the key (signed with the current one); the old key closes now
    recover   after losing the key: a fresh identity proof, earlier keys revoked from a stated time
    requests  consent requests banks made (pending ones with the exact terms to sign)
    show      one consent request
    approve   sign the request's terms with the enterprise's key (shows them; --yes to skip the question)
    decline   decline a request (a signed instruction)
    consents  the enterprise's consents and their status
    pause, resume, revoke    change a consent (signed instructions)
    uses      every use made under a consent, with its audit receipt
    declare   self-declared information under the credit commitment (a new version each time)
    declarations           every version of the enterprise's declarations
    withdraw-declaration   withdraw the current one (a signed instruction; a new, empty version)

`xyd enterprise-ca init|issue` runs the local enterprise-certificate CA (the identity provider the demo and
the tests use; a city plugs in its own, see OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from errors import InvalidInput
from federation.command_line import LazyChoices

PROFILE_ENV = "XYD_ENTERPRISE_PROFILE"
PASSPHRASE_ENV = "XYD_ENTERPRISE_PASSPHRASE"


def _role(value: str):
    """The signatory role (consent's enum, imported when a command runs: `xyd` builds its parser without it)."""
    from consent.authorisation.terms import SignatoryRole

    return SignatoryRole(value)


def _passphrase(args: argparse.Namespace) -> bytes | None:
    if getattr(args, "passphrase_file", None):
        return Path(args.passphrase_file).read_bytes().splitlines()[0]
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _profile_path(args: argparse.Namespace) -> Path:
    path = args.profile or os.environ.get(PROFILE_ENV)
    if not path:
        raise InvalidInput(f"name the enterprise profile with --profile or {PROFILE_ENV}")
    return Path(path)


def open_client(args: argparse.Namespace):
    """The enterprise's signing client for the profile named on the command line."""
    from cli.enterprise_client import EnterpriseClient, Profile, load_key

    profile = Profile.load(_profile_path(args))
    return EnterpriseClient(profile, key=load_key(profile.key_file, _passphrase(args)))


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("times are ISO 8601, e.g. 2026-03-01T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _init(args: argparse.Namespace) -> int:
    from cli.enterprise_client import init_profile

    profile = init_profile(_profile_path(args), api=args.api, credit_code=args.credit_code,
                           key_file=Path(args.key_file) if args.key_file else None, audience=args.audience,
                           passphrase=_passphrase(args))
    print(f"key created in {profile.key_file} (keep it on this side: the platform never sees it)")
    print(f"profile written to {profile.path}")
    return 0


def _signup(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.sign_up(certificate_pem=Path(args.certificate).read_bytes(),
                              certificate_key_pem=Path(args.certificate_key).read_bytes(),
                              signatory=args.signatory, role=_role(args.role)))
    return 0


def _account(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.account())
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from cli.enterprise_client import replace_key

    new_key = Ed25519PrivateKey.generate()
    with open_client(args) as client:
        account = client.account()
        _print(client.rotate(new_key, signatory=account["signatory"], role=_role(account["signatory_role"])))
        replace_key(client.profile.key_file, new_key, _passphrase(args))
    print(f"the new key replaced the old one in {client.profile.key_file}", file=sys.stderr)
    return 0


def _recover(args: argparse.Namespace) -> int:
    from cli.enterprise_client import EnterpriseClient, Profile, replace_key

    profile = Profile.load(_profile_path(args))
    new_key = Ed25519PrivateKey.generate()
    # The old key is lost (or must no longer be trusted): the client signs nothing with it.
    with EnterpriseClient(profile, key=new_key) as client:
        _print(client.recover(new_key, certificate_pem=Path(args.certificate).read_bytes(),
                              certificate_key_pem=Path(args.certificate_key).read_bytes(),
                              signatory=args.signatory, role=_role(args.role),
                              revoked_from=_time(args.revoked_from)))
    if profile.key_file.exists():
        replace_key(profile.key_file, new_key, _passphrase(args))
    else:
        from cli.enterprise_client import key_pem, write_private

        write_private(profile.key_file, key_pem(new_key, _passphrase(args)))
    print(f"the new key is in {profile.key_file}", file=sys.stderr)
    return 0


def _requests(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.requests(args.status))
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.request(args.request_id))
    return 0


def _approve(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        shown = client.request(args.request_id)
        if shown.get("terms") is None:
            raise InvalidInput(f"request {args.request_id} is {shown['status']}: nothing to approve")
        if not args.yes:
            _print(shown["terms"])
            if not sys.stdin.isatty():
                raise InvalidInput("review the terms above, then approve with --yes")
            if input("sign these terms with the enterprise's key? [y/N] ").strip().lower() != "y":
                print("not approved")
                return 1
        _print(client.approve(args.request_id, terms=shown["terms"]))
    return 0


def _decline(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.decline(args.request_id))
    return 0


def _consents(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.consents())
    return 0


def _change(args: argparse.Namespace) -> int:
    from consent.enterprise.instructions import Action

    with open_client(args) as client:
        _print(client.change(args.authorisation_id, Action(args.enterprise_command.upper())))
    return 0


def _uses(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.uses(args.authorisation_id))
    return 0


def _declare(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from consent.enterprise.declarations import Certification, Declaration, Visibility

    certifications = []
    for text in args.certification or []:
        parts = text.split("|")
        if len(parts) < 2:
            raise InvalidInput("a certification is name|issuer[|number[|valid_until]]")
        certifications.append(Certification(*[p or None for p in parts[:4]]))
    declaration = Declaration(
        financing_need_cny=None if args.financing_need_cny is None else Decimal(args.financing_need_cny),
        financing_purpose=args.financing_purpose, revenue_band=args.revenue_band, employees=args.employees,
        main_products=tuple(args.main_product or ()), certifications=tuple(certifications))
    with open_client(args) as client:
        commitment = client.commitment()
        if not args.commit:
            print(commitment["text"])
            raise InvalidInput("the declaration is signed with the credit commitment above: add --commit to sign it")
        account = client.account()
        _print(client.declare(declaration, visibility=Visibility.PUBLIC if args.public else Visibility.CONSENT,
                              signatory=account["signatory"], role=_role(account["signatory_role"]),
                              commitment=commitment))
    return 0


def _declarations(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.declarations())
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        _print(client.withdraw_declaration(args.declaration_id))
    return 0


def _ca_init(args: argparse.Namespace) -> int:
    from consent.enterprise import LocalEnterpriseCA

    ca = LocalEnterpriseCA.create(Path(args.dir))
    print(f"local enterprise CA in {ca.folder} (ca.pem is what the platform's provider_options.certificate_ca "
          f"names)")
    return 0


def _ca_issue(args: argparse.Namespace) -> int:
    from consent.enterprise import LocalEnterpriseCA

    LocalEnterpriseCA.load(Path(args.dir)).issue(args.credit_code, args.name, days=args.days)
    folder = Path(args.dir) / "enterprises" / args.credit_code
    print(f"certificate and key for {args.credit_code} in {folder} (hand them to the enterprise only)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd enterprise ...` and `xyd enterprise-ca ...`."""
    parser = subparsers.add_parser("enterprise", help="an enterprise's own tool: keys, sign-up, consent")
    sub = parser.add_subparsers(dest="enterprise_command", metavar="ACTION")
    sub.required = True

    def command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=help_text)
        command_parser.add_argument("--profile", help=f"the enterprise's profile (TOML; or {PROFILE_ENV})")
        command_parser.add_argument("--passphrase-file", help=f"the key file's passphrase (first line; or "
                                                              f"{PASSPHRASE_ENV})")
        command_parser.set_defaults(func=func)
        return command_parser

    def identity(command_parser: argparse.ArgumentParser) -> None:
        command_parser.add_argument("--certificate", required=True, help="the enterprise certificate (PEM)")
        command_parser.add_argument("--certificate-key", required=True, help="its private key (PEM)")
        command_parser.add_argument("--signatory", required=True, help="the natural person signing")
        command_parser.add_argument("--role", default="LEGAL_REPRESENTATIVE", metavar="ROLE",
                                    choices=LazyChoices("consent.authorisation.terms:SignatoryRole"),
                                    help="the signatory's role (default LEGAL_REPRESENTATIVE)")

    init = command("init", _init, "create the signing key and the profile")
    init.add_argument("--api", required=True, help="the platform API's URL")
    init.add_argument("--credit-code", required=True, help="the enterprise's unified social credit code")
    init.add_argument("--key-file", help="where to create the key (default: the profile's name with .key)")
    init.add_argument("--audience", default="platform/main", help="the platform's identity (proofs name it)")
    identity(command("signup", _signup, "prove the enterprise's identity and bind its key"))
    command("account", _account, "show the account and its keys")
    command("rotate", _rotate, "replace the signing key (the current key signs the change)")
    recover = command("recover", _recover, "re-bind after a lost key (fresh identity proof)")
    identity(recover)
    recover.add_argument("--revoked-from", required=True,
                         help="revoke earlier keys from this time (ISO 8601; when the key may have been lost)")

    requests = command("requests", _requests, "consent requests banks made of this enterprise")
    requests.add_argument("--status", choices=["PENDING", "APPROVED", "DECLINED", "EXPIRED"])
    command("show", _show, "one consent request").add_argument("request_id")
    approve = command("approve", _approve, "sign a request's terms with the enterprise's key")
    approve.add_argument("request_id")
    approve.add_argument("--yes", action="store_true", help="sign without showing the terms and asking")
    command("decline", _decline, "decline a consent request").add_argument("request_id")
    command("consents", _consents, "this enterprise's consents")
    for action in ("pause", "resume", "revoke"):
        command(action, _change, f"{action} a consent").add_argument("authorisation_id")
    command("uses", _uses, "every use made under a consent, with receipts").add_argument("authorisation_id")

    declare = command("declare", _declare, "self-declared information under the credit commitment")
    declare.add_argument("--financing-need-cny", help="the financing need, CNY")
    declare.add_argument("--financing-purpose", help="WORKING_CAPITAL, EQUIPMENT, EXPANSION, TRADE_FINANCE, ...")
    declare.add_argument("--revenue-band", help="BELOW_1M, 1M_10M, 10M_50M, 50M_200M or ABOVE_200M")
    declare.add_argument("--employees", type=int)
    declare.add_argument("--main-product", action="append", help="a main product (repeat, at most 5)")
    declare.add_argument("--certification", action="append", help="name|issuer[|number[|valid_until]] (repeat)")
    declare.add_argument("--public", action="store_true", help="in every reader's report (default: under consent)")
    declare.add_argument("--commit", action="store_true", help="sign the credit commitment (shown without it)")
    command("declarations", _declarations, "every version of the enterprise's declarations")
    command("withdraw-declaration", _withdraw, "withdraw the current declaration").add_argument("declaration_id")

    ca = subparsers.add_parser("enterprise-ca", help="the local enterprise-certificate CA (demo, tests)")
    ca_sub = ca.add_subparsers(dest="ca_command", metavar="ACTION")
    ca_sub.required = True
    ca_init = ca_sub.add_parser("init", help="create the CA")
    ca_init.add_argument("--dir", required=True)
    ca_init.set_defaults(func=_ca_init)
    ca_issue = ca_sub.add_parser("issue", help="issue an enterprise certificate")
    ca_issue.add_argument("--dir", required=True)
    ca_issue.add_argument("--credit-code", required=True)
    ca_issue.add_argument("--name", required=True, help="the enterprise's registered name")
    ca_issue.add_argument("--days", type=int, default=365)
    ca_issue.set_defaults(func=_ca_issue)
