"""`xyd demo`: synthetic data, a local federation of separate processes over mTLS, and a PSI job.

The launcher knows every table (it generated them), so it also checks the federation's answer against
a plain intersection computed here: the demo fails loudly if they differ.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from coordinator.client import OperatorError, stage_results
from coordinator.launcher import PLATFORM, LocalFederation, NodeData
from coordinator.processes import ProcessFailed
from coordinator.synthdata import generate

DEFAULT_SOURCES = ("tax", "social_insurance", "utilities", "housing_fund")


def _print(line: str = "") -> None:
    print(line, flush=True)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    _print(fmt.format(*header))
    _print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        _print(fmt.format(*r))


def psi_job(sources: list[str]) -> str:
    passive = ", ".join(f'"source/{s}"' for s in sources)
    return (f'[job]\nname = "demo-psi"\nstages = ["psi"]\n\n[parties]\nactive = "{PLATFORM.party}"\n'
            f'passive = [{passive}]\n\n[psi]\nreveal = "both"\nbatch_size = 20000\n')


def _ids(table: Path, id_column: str = "credit_code") -> set[str]:
    return set(pd.read_csv(table, usecols=[id_column], dtype=str)[id_column].dropna())


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="xyd-demo-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    _print(f"xyd demo: state in {state_dir}")
    _print(f"[1/4] generating synthetic enterprise data: {args.enterprises} enterprises, seed {args.seed}")
    data_dir = state_dir / "data"
    manifest = generate(args.enterprises, args.seed, data_dir)
    units = {u.name: NodeData(data_dir / u.schema, data_dir / u.table) for u in manifest.units}
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [s for s in sources if s not in units]
    if unknown:
        _print(f"error: no source unit named {unknown}; the synthetic data has {sorted(units)}")
        return 2
    node_data = {s: units[s] for s in sources}
    platform = NodeData(data_dir / manifest.platform.schema, data_dir / manifest.platform.table)
    federation = LocalFederation(state_dir, platform, node_data)
    ok = False
    try:
        _print(f"[2/4] starting coordinator, platform and {len(sources)} source nodes as separate processes (mTLS)")
        with federation:
            with federation.client() as client:
                nodes = client.nodes()
                rows = []
                for n in nodes:
                    t = n.description.tables[0] if n.description.tables else None
                    protected = sum(c.sensitivity != "PUBLIC" for c in t.columns) if t else 0
                    rows.append([n.party, n.address, str(t.rows if t else 0),
                                 f"{len(t.columns) if t else 0} ({protected} protected)"])
                _table(rows, ["node", "address", "rows", "columns (published schema, no values)"])
                _print(f"[3/4] private set intersection: platform x {len(sources)} sources (ECDH on Curve25519)")
                job_id = client.submit(psi_job(sources))
                _print(f"      job {job_id}")
                final = None
                for event in client.watch(job_id):
                    if event.HasField("status"):
                        final = event.status
                    elif event.message:
                        pct = f" {event.fraction * 100:5.1f}%" if event.fraction >= 0 else ""
                        _print(f"      [{event.party}] {event.stage}:{pct} {event.message}")
                if final is None:
                    final = client.status(job_id)
            if final.state != "SUCCEEDED":
                _print(f"error: job {job_id} {final.state}: {final.error}")
                return 1
            results = stage_results(final)["psi"]
            platform_ids = _ids(data_dir / "platform.csv")
            _print("[4/4] summary")
            per_peer = results[PLATFORM.party]["per_peer"]
            rows, mismatches = [], []
            for s in sources:
                party = f"source/{s}"
                expected = len(platform_ids & _ids(node_data[s].table))
                got = per_peer[party]["intersection"]
                seen_by_source = results[party]["intersection"]
                if got != expected or seen_by_source != expected:
                    mismatches.append(party)
                rows.append([party, str(results[party]["local_rows"]), str(results[PLATFORM.party]["local_rows"]),
                             str(got), str(expected), f"{per_peer[party]['seconds']:.2f}s"])
            _table(rows, ["source", "source rows", "platform rows", "intersection", "expected", "time"])
            if mismatches:
                _print(f"error: intersection differs from the plain computation for {mismatches}")
                return 1
            ok = True
            _print(f"demo finished in {time.monotonic() - started:.1f}s: every process stopped; "
                   f"logs in {state_dir / 'logs'}")
            return 0
    except (ProcessFailed, OperatorError) as exc:
        _print(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _print("interrupted: stopping every process")
        return 130
    finally:
        if ok and not args.state_dir and not args.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the end-to-end federation on loopback")
    demo.add_argument("--enterprises", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--sources", default=",".join(DEFAULT_SOURCES), help="comma-separated source units")
    demo.add_argument("--state-dir", default=None, help="keep state (PKI, data, logs) in this folder")
    demo.add_argument("--keep-state", action="store_true", help="do not delete the temporary state folder")
    demo.set_defaults(func=run_demo)


