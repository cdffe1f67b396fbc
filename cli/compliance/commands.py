"""`xyd audit ...`: the compliance officer's commands over the registry's database.

    authorisations   list authorisations by enterprise, institution, source unit, status or period
    uses             list logged uses by enterprise, institution, source unit, authorisation or period
    verify-chain     prove the stored log extends every checkpoint: its own, each witness's latest cosigned one,
                     banks' receipts, the officer's last verified one; recompute the stored rows
    receipt          issue the inclusion receipt of one leaf against the latest checkpoint
    verify-receipt   check a receipt file (checkpoint signatures and the audit path)
    keys             print the log's and the witnesses' keys (certificate-checked) for the officer's config
    cross-check      compare a source node's own use log with the registry's
    overdue          uses whose outcome feedback is past due (if this database tracks uses)
`--db` takes a file path or an SQLAlchemy URL. Listings print a table, or `--format json|csv`; with `--out`
the report goes to a file and the export itself is logged as an `audit_export` leaf. The checks need the log's
verification key, from `--log-vkey` or the officer's config file (`--config` or `XYD_AUDIT_CONFIG`; see
`cli/compliance/officer.py`), which also names the witnesses to ask and where the last verified checkpoint
is kept; they refuse to run without it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from sqlalchemy import Engine

from cli.compliance.checks import (
    USE_KINDS,
    LogTrust,
    cross_check_source,
    list_authorisations,
    list_uses,
    overdue_uses,
    record_export,
    verify_chain,
)
from cli.compliance.command_line import CONFIG_ENV, register
from cli.compliance.officer import (
    OfficerConfig,
    OfficerConfigError,
    VerifiedState,
    default_state_path,
)
from cli.compliance.witness_client import ask_witnesses
from cli.registry_admin import RegistryAdmin
from consent.audit import (
    AuditError,
    AuditLog,
    CosignatureVerifier,
    Ed25519Verifier,
    EventKind,
    HistoryReport,
    InclusionReceipt,
    LogForkedError,
    LogRolledBackError,
    LogTamperedError,
    LogTruncatedError,
    NoteError,
    WitnessesUnavailableError,
    issue_receipt,
    open_engine,
    verify_receipt,
)
from consent.audit.checkpoint import verify_checkpoint
from consent.audit.merge import archive_origin, verify_merges
from consent.authorisation import Status
from consent.merkle import ProofError
from errors import ConfigurationError

OK, FAILED, USAGE = 0, 1, 2


def engine_for(db: str) -> Engine:
    """An engine for a path or URL; a path must exist (a typo must not create an empty database)."""
    if "://" in db:
        return open_engine(db)
    path = Path(db)
    if not path.exists():
        raise SystemExit(f"error: no database at {path}")
    return open_engine(f"sqlite:///{path}")


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class UsageError(ConfigurationError):
    """The command cannot run as configured (exit status 2); the message says what is missing."""


def officer_config(args: argparse.Namespace) -> OfficerConfig:
    """The officer's config file from `--config` or XYD_AUDIT_CONFIG (none: flags only)."""
    path = getattr(args, "config", None) or os.environ.get(CONFIG_ENV)
    if not path:
        return OfficerConfig.empty()
    try:
        return OfficerConfig.load(Path(path))
    except OfficerConfigError as error:
        raise UsageError(str(error)) from None


def trust_from(args: argparse.Namespace, config: OfficerConfig) -> LogTrust:
    """The log key (required), witness keys and quorum from the flags, else from the config file."""
    try:
        log = Ed25519Verifier.from_vkey(args.log_vkey) if args.log_vkey else config.log
        flagged = tuple(CosignatureVerifier.from_vkey(v) for v in args.witness_vkey)
    except NoteError as error:
        raise UsageError(f"bad verifier key: {error}") from None
    if log is None:
        raise UsageError(f"the log's verification key is required: --log-vkey, or [log] vkey in the officer's "
                         f"config (--config or {CONFIG_ENV})")
    witnesses = {w.name: w.verifier for w in config.witnesses}
    witnesses.update({w.name: w for w in flagged})
    quorum = args.quorum if args.quorum is not None else config.quorum
    if quorum is None:
        quorum = len(witnesses) // 2 + 1 if witnesses else 0
    if quorum > len(witnesses):
        raise UsageError(f"quorum {quorum} exceeds the {len(witnesses)} configured witnesses")
    return LogTrust(log, tuple(witnesses.values()), quorum)


def render(rows: list[dict[str, object]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if not rows:
        return "" if fmt == "csv" else "(none)\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(r[h]).ljust(w) for h, w in zip(header, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def emit(rows: list[dict[str, object]], args: argparse.Namespace, engine: Engine) -> int:
    """Print the rows, or write them to `--out` and log the export."""
    text = render(rows, args.format)
    if not args.out:
        sys.stdout.write(text)
        return OK
    data = text.encode("utf-8")
    Path(args.out).write_bytes(data)
    receipt = record_export(AuditLog(engine), actor=args.actor, report_sha256=hashlib.sha256(data).hexdigest(),
                            now=datetime.now(UTC))
    print(f"wrote {len(rows)} rows to {args.out}; export logged as leaf {receipt.index}")
    return OK


def _authorisations(args: argparse.Namespace) -> int:
    engine = engine_for(args.db)
    rows = list_authorisations(
        engine, enterprise=args.enterprise, institution=args.institution, source=args.source,
        status=Status(args.status) if args.status else None,
        since=parse_time(args.since) if args.since else None, until=parse_time(args.until) if args.until else None,
    )
    return emit(rows, args, engine)


def _uses(args: argparse.Namespace) -> int:
    engine = engine_for(args.db)
    rows = list_uses(
        AuditLog(engine), engine, enterprise=args.enterprise, institution=args.institution, source=args.source,
        authorisation=args.authorisation, kinds=[EventKind(k) for k in args.kind] if args.kind else USE_KINDS,
        since=parse_time(args.since) if args.since else None, until=parse_time(args.until) if args.until else None,
    )
    return emit(rows, args, engine)


VERDICTS = (
    (LogTruncatedError, "TRUNCATED"), (LogRolledBackError, "ROLLED BACK"), (LogForkedError, "FORKED"),
    (LogTamperedError, "TAMPERED"), (WitnessesUnavailableError, "WITNESSES UNAVAILABLE"),
)


def failure_line(error: Exception) -> str:
    """`FAILED (WHAT IT FOUND): ErrorType: message`."""
    found = next((f" ({word})" for kind, word in VERDICTS if isinstance(error, kind)), "")
    return f"FAILED{found}: {type(error).__name__}: {error}"


def _verify_chain(args: argparse.Namespace) -> int:
    config = officer_config(args)
    trust = trust_from(args, config)
    log = AuditLog(engine_for(args.db))
    state = VerifiedState(Path(args.state) if args.state else config.state or default_state_path())
    now = parse_time(args.now) if args.now else datetime.now(UTC)
    max_age = timedelta(seconds=args.max_witness_age_s) if args.max_witness_age_s else config.max_witness_age
    answers = None
    if not args.offline:
        if not config.witnesses:
            raise UsageError("no witness to ask: list each source node as a [[witness]] (vkey, address) in the "
                             "officer's config, or pass --offline to skip the witnesses (truncation is then only "
                             "checked against your last verified checkpoint, saved notes and receipts)")
        if config.tls is None:
            raise UsageError("asking the witnesses needs the officer's certificate: [tls] in the officer's config")
        answers = ask_witnesses(config.tls, config.witnesses, trust.log.name, timeout=args.timeout)
    try:
        last = state.last_verified(trust.log.name)
        saved = [(p, Path(p).read_text(encoding="utf-8")) for p in args.saved]
        receipts = [(p, InclusionReceipt.from_json(Path(p).read_bytes())) for p in args.receipt]
        report = verify_chain(log, trust=trust, witness_answers=answers, receipts=receipts, saved=saved,
                              last_verified=last, check_rows=not args.no_rows, now=now, max_age=max_age)
    except (AuditError, ProofError) as exc:
        print(failure_line(exc))
        return FAILED
    except (OSError, OfficerConfigError) as exc:
        print(f"error: {exc}")
        return USAGE
    print_history(report, last_verified=last is not None, now=now)
    try:
        merged = check_merges(log, args.merged_vkey)
    except (AuditError, ProofError) as exc:
        print(failure_line(exc))
        return FAILED
    except NoteError as exc:
        raise UsageError(f"bad merged log key: {exc}") from None
    for merge in merged:
        print(f"merged log {merge.origin} ({merge.size} leaves, archived as {merge.archive_prefix}): its rows recompute "
              f"to the head the log_merged leaf {merge.merge_leaf} commits to; its leaves are leaves "
              f"{merge.first_index}..{merge.first_index + merge.size - 1} of this log")
    newest = report.newest
    if newest is not None:
        state.remember(newest.note)
        print(f"kept checkpoint size {newest.checkpoint.size} as the last verified one in {state.path}")
    print("chain OK" + ("" if report.witnesses_asked else " (offline: witnesses not asked)"))
    return OK


def check_merges(log: AuditLog, vkeys: Sequence[str]) -> list:
    """Every log merged into `log` (consent/audit/merge.py): archive rows, the merge leaf, the copies; with the
    merged log's key, the archive's own checkpoints' signatures too."""
    verifiers = {v.name: v for v in (Ed25519Verifier.from_vkey(k) for k in vkeys)}

    def checkpoints_of(archive: AuditLog):
        notes = archive.checkpoints()
        if not notes or not verifiers:
            return []
        origin = archive_origin(archive)
        if origin not in verifiers:
            return []
        return [verify_checkpoint(note, verifiers[origin]).checkpoint for note in notes]

    return verify_merges(log, checkpoints_of=checkpoints_of)


def print_history(report: HistoryReport, *, last_verified: bool, now: datetime) -> None:
    """What was verified, one line per checkpoint."""
    for held in sorted(report.stored, key=lambda h: h.verified.checkpoint.size):
        checkpoint = held.verified.checkpoint
        print(f"checkpoint size {checkpoint.size:>6} root {checkpoint.root.hex()[:16]}…  log signature ok, "
              f"cosigned by {', '.join(n for n, _ in held.verified.cosigners) or 'no witness'}")
    for held in report.held:
        checkpoint = held.verified.checkpoint
        when = ""
        if held.verified.cosigners:
            age = now.timestamp() - max(t for _, t in held.verified.cosigners)
            when = f", cosigned {age:.0f} s ago"
        print(f"{held.label}: size {checkpoint.size}{when}; the stored log extends it")
    for name, why in report.unanswered:
        print(f"witness {name} did not answer: {why}")
    if not report.witnesses_asked:
        print("WARNING: witnesses not asked (--offline): a truncation after your last verification that no "
              "saved checkpoint or receipt covers would go unnoticed")
    if not last_verified:
        print("no last verified checkpoint kept yet (first run with this state file)")
    covered = max((h.verified.checkpoint.size for h in (*report.stored, *report.held)), default=0)
    print(f"stored log: {report.head.size} leaves"
          + (f", {report.rows_checked} recomputed" if report.rows_checked else ", rows not recomputed")
          + (f"; {report.head.size - covered} newer than any checkpoint" if report.head.size > covered else ""))


def _receipt(args: argparse.Namespace) -> int:
    log = AuditLog(engine_for(args.db))
    note = log.latest_checkpoint()
    if note is None:
        print("error: no checkpoint recorded yet")
        return FAILED
    try:
        receipt = issue_receipt(log, args.index, note)
    except (AuditError, ProofError, ValueError) as exc:
        print(f"error: {exc}")
        return FAILED
    data = receipt.to_json()
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"receipt of leaf {args.index} written to {args.out}")
    else:
        print(data.decode())
    return OK


def _verify_receipt(args: argparse.Namespace) -> int:
    trust = trust_from(args, officer_config(args))
    try:
        receipt = InclusionReceipt.from_json(Path(args.receipt).read_bytes())
        event, verified = verify_receipt(receipt, trust.log, witnesses=trust.witnesses, quorum=trust.quorum)
    except (AuditError, ProofError) as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}")
        return FAILED
    print(f"receipt OK: leaf {receipt.index} ({event.kind.value}, use {event.use_id or '-'}) is in the log "
          f"of size {verified.checkpoint.size}, cosigned by {', '.join(n for n, _ in verified.cosigners) or 'none'}")
    return OK


def _cross_check(args: argparse.Namespace) -> int:
    trust = trust_from(args, officer_config(args))
    log = AuditLog(engine_for(args.db))
    try:
        report = cross_check_source(log, engine_for(args.source_db), source=args.source, trust=trust)
    except (AuditError, ProofError) as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}")
        return FAILED
    print(f"{args.source}: {report.checked} uses in its own log; matched {len(report.matched)}, pending "
          f"{len(report.pending)}, unproven {len(report.unproven)}, altered {len(report.altered)}, missing "
          f"{len(report.missing)}; registry uses the node never recorded: {len(report.unexpected)}")
    for event in report.missing:
        print(f"  missing from the registry: {event.kind.value} {event.use_id}")
    for event, _versions in report.altered:
        print(f"  altered in the registry: {event.kind.value} {event.use_id}")
    for event in report.unexpected:
        print(f"  unexpected in the registry: {event.kind.value} {event.use_id}")
    clean = report.complete and not report.unexpected
    print("cross-check clean" if clean else "cross-check FAILED")
    return OK if clean else FAILED


def _keys(args: argparse.Namespace) -> int:
    """Print the [log] and [[witness]] keys for officer.toml, as the parties' certificates vouch for them."""
    config = officer_config(args)
    if config.tls is None:
        raise UsageError("fetching the keys needs the officer's certificate: [tls] in the officer's config")
    try:
        with RegistryAdmin(config.tls, args.platform) as admin:
            trust = admin.log_trust(now=datetime.now(UTC))
    except grpc.RpcError as exc:
        print(f"error: the platform did not answer: {exc.code().name}")
        return FAILED
    print("# Each key was checked against the certificate of the party it names (the platform relays them")
    print("# but cannot forge them). Fill in each witness's address, then review before trusting.")
    print(f'[log]\nvkey = "{trust.log.vkey()}"\n')
    for witness in trust.witnesses:
        print(f'[[witness]]\nvkey = "{witness.vkey()}"\naddress = ""   # the {witness.name} node\'s server\n')
    return OK


def _overdue(args: argparse.Namespace) -> int:
    engine = engine_for(args.db)
    rows = overdue_uses(engine, now=parse_time(args.now) if args.now else datetime.now(UTC))
    if rows is None:
        print("this database has no uses table: feedback deadlines are not tracked here")
        return OK
    return emit(rows, args, engine)


def usage_errors_reported(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`func`, with a configuration problem printed and turned into exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except UsageError as error:
            print(f"error: {error}")
            return USAGE

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run `xyd audit` alone (as `python -m cli.compliance.commands ...`)."""
    parser = argparse.ArgumentParser(prog="xyd")
    register(parser.add_subparsers(dest="command", required=True))  # from cli.compliance.command_line
    args = parser.parse_args(["audit", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
