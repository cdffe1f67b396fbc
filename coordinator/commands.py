"""Subcommands of the `xyd` CLI contributed by the coordinator: serve, jobs, nodes, PKI, data, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from coordinator.serve import serve
    from federation.config import load_node_config
    from federation.logs import configure_logging

    config = load_node_config(Path(args.config))
    configure_logging("coordinator/main", config.log_level)
    return serve(config)


def _nodes(args: argparse.Namespace) -> int:
    from coordinator.client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        for n in client.nodes():
            tables = ", ".join(f"{t.name}({t.rows} rows, {len(t.columns)} columns)" for t in n.description.tables)
            print(f"{n.party:<28} {n.address:<22} {tables}")
    return 0


def _job_submit(args: argparse.Namespace) -> int:
    from coordinator.client import CoordinatorClient, OperatorConfig
    from coordinator.jobs.spec import JobSpecError, load_job_spec

    try:
        spec = load_job_spec(Path(args.job))
    except JobSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        job_id = client.submit(spec.text)
        print(f"submitted {job_id}")
        if args.no_watch:
            return 0
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


def _job_status(args: argparse.Namespace) -> int:
    from coordinator.client import CoordinatorClient, OperatorConfig

    with CoordinatorClient(OperatorConfig.load(Path(args.operator))) as client:
        status = client.status(args.job_id)
        print(f"{status.job_id}: {status.state} {status.error}")
        for s in status.stages:
            print(f"  {s.stage:<10} {s.state:<10} {s.error}")
            for party, result in sorted(s.results.items()):
                print(f"    {party}: {result}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the coordinator's subcommands to the `xyd` parser."""
    coord = subparsers.add_parser("coordinator", help="the coordinator process")
    sub = coord.add_subparsers(dest="coordinator_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the coordinator (mTLS gRPC) until SIGTERM")
    serve.add_argument("--config", required=True, help="node TOML file")
    serve.set_defaults(func=_serve)

    nodes = subparsers.add_parser("nodes", help="list the nodes registered with the coordinator")
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

    from coordinator.audit_cli import register as register_audit
    from coordinator.demo import register_demo
    from coordinator.pki_cli import register as register_pki
    from coordinator.synthdata.cli import register as register_synth

    register_pki(subparsers)
    data = subparsers.add_parser("data", help="synthetic enterprise data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    register_synth(data_sub)
    register_demo(subparsers)
    register_audit(subparsers)
