"""Subcommands of the `xyd` CLI contributed by the platform role."""

from __future__ import annotations

import argparse
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from federation.config import load_node_config
    from federation.logs import configure_node_logging
    from platform_node.node import serve

    config = load_node_config(Path(args.config))
    configure_node_logging("platform", config)
    return serve(config)


def _merge_logs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from federation.config import load_node_config
    from platform_node.log_merge import merge_logs

    report = merge_logs(load_node_config(Path(args.config)), now=datetime.now(UTC))
    print(f"merged: the registry's log ({report.registry_leaves} leaves) is the platform's log; the API's "
          f"{report.api_leaves} leaves are archived as {report.merged.archive_prefix} and appended from leaf "
          f"{report.merged.first_index}, committed to by the log_merged leaf {report.merged.merge_leaf}")
    print(f"the registry's database is kept as {report.archived_registry_db}; start the platform again")
    return 0


def _merge_governance_log(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from federation.config import load_node_config
    from platform_node.governance_log_merge import merge_governance_log

    report = merge_governance_log(load_node_config(Path(args.config)), Path(args.coordinator_db),
                                  now=datetime.now(UTC))
    merged = report.merged
    print(f"merged: the coordinator's governance log ({report.leaves} leaves) is archived as {merged.archive_prefix} "
          f"and its leaves are leaves {merged.first_index}..{merged.first_index + merged.size - 1} of the platform's "
          f"log, committed to by the log_merged leaf {merged.merge_leaf}")
    print(f"the coordinator's outbox holds them as forwarded events ({report.outbox_events} new, "
          f"{report.usage_lines} usage lines re-keyed); start the platform, then the coordinator")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `xyd platform ...`."""
    platform = subparsers.add_parser("platform", help="the platform node")
    sub = platform.add_subparsers(dest="platform_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="run the platform node (mTLS gRPC) until SIGTERM")
    serve.add_argument("--config", required=True, help="node TOML file")
    serve.set_defaults(func=_serve)
    merge = sub.add_parser("merge-logs", help="one database and one audit log for a platform that had two "
                                              "(stop the platform first)")
    merge.add_argument("--config", required=True, help="the platform node's TOML file")
    merge.set_defaults(func=_merge_logs)
    governance = sub.add_parser("merge-governance-log", help="fold the coordinator's former governance log into the "
                                                             "platform's one log (stop both first)")
    governance.add_argument("--config", required=True, help="the platform node's TOML file")
    governance.add_argument("--coordinator-db", required=True,
                            help="the coordinator's database file (<coordinator state_dir>/coordinator.db)")
    governance.set_defaults(func=_merge_governance_log)
    from platform_node.api.command_line import register as register_api

    register_api(subparsers)
