"""The operator's subcommands of `xyd`: nodes, jobs, training and the model registry (admin certificate)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _ago(then: float, now: float) -> str:
    """'12 s ago', '3 min ago', '5 h ago', '2 d ago' (or 'never')."""
    if not then:
        return "never"
    seconds = max(0.0, now - then)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _nodes(args: argparse.Namespace) -> int:
    import time

    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        nodes = client.nodes(probe=True)
    now = time.time()
    for n in nodes:
        tables = ", ".join(f"{t.name}({t.rows} rows, {len(t.columns)} columns)" for t in n.description.tables)
        alive = "answering" if n.answering else f"NOT ANSWERING ({n.probe_error})"
        print(f"{n.party:<28} {n.address:<22} {alive:<12} seen {_ago(n.last_seen, now)}, "
              f"registered {_ago(n.registered_at, now)}  {tables}")
    return 0 if all(n.answering for n in nodes) else 1


def _job_submit(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig
    from jobspec.spec import JobSpecError, load_job_spec

    try:
        spec = load_job_spec(Path(args.job))
    except JobSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        job_id = client.submit(spec.text)
        print(f"submitted {job_id}")
        return 0 if args.no_watch else _follow(client, job_id)


def _follow(client, job_id: str) -> int:
    """Print a job's progress until it ends; 0 if it succeeded."""
    state = "UNKNOWN"
    for event in client.watch(job_id):
        if event.HasField("status"):
            state = event.status.state
            if event.status.error:
                print(f"error: {event.status.error}", file=sys.stderr)
        elif event.message:
            print(f"[{event.party}] {event.stage}: {event.message}")
    print(f"{job_id}: {state}")
    return 0 if state == "SUCCEEDED" else 1


def _print_status(status) -> None:
    print(f"{status.job_id}: {status.state} {status.error}".rstrip())
    for s in status.stages:
        runs = f" ({s.attempts} runs, last from checkpoint {s.resumed_from})" if s.attempts > 1 else ""
        print(f"  {s.stage:<10} {s.state:<11} {s.error}{runs}".rstrip())
        for party, result in sorted(s.results.items()):
            print(f"    {party}: {result}")


def _job_status(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        _print_status(client.status(args.job_id))
    return 0


def _job_list(args: argparse.Namespace) -> int:
    import time

    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        jobs = client.jobs(limit=args.limit, state=args.state or "")
    now = time.time()
    for j in jobs:
        current = next((s.stage for s in j.stages if s.state not in ("SUCCEEDED", "PENDING")), "")
        print(f"{j.job_id:<32} {j.state:<11} {j.name[:24]:<24} {current:<9} updated {_ago(j.updated_at, now)}"
              f"  {j.error[:120]}".rstrip())
    return 0


def _job_cancel(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        _print_status(client.cancel(args.job_id))
    return 0


def _job_resume(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        client.resume(args.job_id)
        print(f"resumed {args.job_id}")
        return 0 if args.no_watch else _follow(client, args.job_id)


def _job_retry(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        job_id = client.retry(args.job_id)
        print(f"submitted {job_id} (retry of {args.job_id})")
        return 0 if args.no_watch else _follow(client, job_id)


def _job_cleanup(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        summary = client.cleanup(args.job_id)
    for p in summary.parties:
        outcome = f"NOT REMOVED: {p.error}" if p.error else f"removed {p.files_removed} files, {p.bytes_removed} bytes"
        print(f"{p.party:<28} {outcome}")
    return 1 if any(p.error for p in summary.parties) else 0


def _model_list(args: argparse.Namespace) -> int:
    from cli.operator_client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        for m in client.models(args.name or ""):
            metrics = json.loads(m.metrics_json)
            shown = ", ".join(f"{k} {v}" for k, v in sorted(metrics.items()) if isinstance(v, (int, float)))
            print(f"{m.model_id:<40} v{m.version:<3} {m.name:<20} {m.algorithm:<22} {','.join(m.parties)}  {shown}")
    return 0


def _model_register(args: argparse.Namespace) -> int:
    """Record a model file trained outside the coordinator's jobs (the banks' Flower federation); with
    `--publish-to`, then copy it atomically into the folder the platform serves horizontal models from."""
    from cli.operator_client import CoordinatorClient, OperatorConfig
    from federation.proto import control_pb2
    from models.horizontal import (
        ModelIntegrityError,
        horizontal_model_id,
        publish_model_file,
        read_model_file,
    )

    doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
    sha = str(doc.get("sha256", ""))
    if len(sha) != 64:
        print(f"error: {args.file} carries no sha256: not a model file written by xyd", file=sys.stderr)
        return 2
    if args.publish_to:
        try:  # refuse to register what could not be published: the file must verify
            read_model_file(Path(args.file))
        except ModelIntegrityError as exc:
            print(f"error: {args.file}: {exc}", file=sys.stderr)
            return 2
    report = json.loads(Path(args.report).read_text(encoding="utf-8")) if args.report else {}
    final = report.get("final", {})
    metrics = {k: v for k, v in final.items() if isinstance(v, (int, float))}
    registration = control_pb2.ModelRegistration(
        model_id=horizontal_model_id(sha), name=args.name, algorithm=f"horizontal_{doc.get('kind', 'model')}",
        parties=sorted(report.get("banks", [])), params_json=json.dumps(doc.get("training", {}), sort_keys=True),
        metrics_json=json.dumps(metrics, sort_keys=True),
        lineage_json=json.dumps({"model_sha256": sha, "file": Path(args.file).name}, sort_keys=True))
    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        entry = client.register_model(registration)
    print(f"registered {entry.model_id} as {entry.name} version {entry.version}")
    if args.publish_to:
        print(f"published {entry.model_id} to {publish_model_file(Path(args.file), Path(args.publish_to))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `nodes`, `job`, `train` and `model` to the `xyd` parser."""
    nodes = subparsers.add_parser("nodes", help="list the registered nodes, whether each answers now and when it "
                                                "was last seen (exit 1 if any does not answer)")
    nodes.add_argument("--operator", required=True, help="operator TOML (coordinator address, admin certificate)")
    nodes.set_defaults(func=_nodes)

    job = subparsers.add_parser("job", help="submit and inspect jobs")
    job_sub = job.add_subparsers(dest="job_command", metavar="ACTION")
    job_sub.required = True
    submit = job_sub.add_parser("submit", help="submit a job file and follow its progress")
    submit.add_argument("job", help="job TOML file")
    submit.add_argument("--operator", required=True)
    submit.add_argument("--no-watch", action="store_true")
    submit.set_defaults(func=_job_submit)
    train = subparsers.add_parser("train", help="run a training job file (PSI, binning, train, evaluate, publish)")
    train.add_argument("job", help="job TOML file with a [train] table")
    train.add_argument("--operator", required=True, help="operator TOML (coordinator address, admin certificate)")
    train.add_argument("--no-watch", action="store_true")
    train.set_defaults(func=_job_submit)
    status = job_sub.add_parser("status", help="show a job's persisted state")
    status.add_argument("job_id")
    status.add_argument("--operator", required=True)
    status.set_defaults(func=_job_status)
    listing = job_sub.add_parser("list", help="the newest jobs with their state")
    listing.add_argument("--operator", required=True)
    listing.add_argument("--state", default="", help="only jobs in this state (RUNNING, INTERRUPTED, FAILED, ...)")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=_job_list)
    for name, func, text in (
            ("cancel", _job_cancel, "stop a pending, running or interrupted job on every party"),
            ("resume", _job_resume, "continue an interrupted or failed job from the last checkpoint every party "
                                    "holds"),
            ("retry", _job_retry, "run a failed or cancelled job's file again as a new job, from scratch"),
            ("cleanup", _job_cleanup, "remove a failed or cancelled job's files on every party")):
        action = job_sub.add_parser(name, help=text)
        action.add_argument("job_id")
        action.add_argument("--operator", required=True)
        if name in ("resume", "retry"):
            action.add_argument("--no-watch", action="store_true")
        action.set_defaults(func=func)

    model = subparsers.add_parser("model", help="the model registry")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION")
    model_sub.required = True
    listing = model_sub.add_parser("list", help="published and registered models")
    listing.add_argument("--operator", required=True)
    listing.add_argument("--name", default="")
    listing.set_defaults(func=_model_list)
    reg = model_sub.add_parser("register", help="record a model file (e.g. from xyd federate-banks --out)")
    reg.add_argument("--file", required=True, help="model.json")
    reg.add_argument("--report", default=None, help="report.json of the run (metrics, banks)")
    reg.add_argument("--name", required=True)
    reg.add_argument("--operator", required=True)
    reg.add_argument("--publish-to", default=None, metavar="DIR",
                     help="then copy the file atomically to DIR/<model_id>.json, the folder the platform serves "
                          "horizontal models from ([api] horizontal_models_dir)")
    reg.set_defaults(func=_model_register)
