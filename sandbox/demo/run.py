"""`xyd demo`: synthetic data, a local federation of separate processes over mTLS, PSI, and a joint
SecureBoost model trained under Paillier-2048.

The launcher knows every table (it generated them), so it also checks the federation's intersections
against a plain computation and prints plaintext reference models beside the federated one: the demo
fails loudly if an intersection differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from cli.operator_client import OperatorError, stage_results
from sandbox.demo.alert import run_alert_demo
from sandbox.demo.bank import onboard, run_bank_demo
from sandbox.demo.banks import register_banks_model, run_banks_demo
from sandbox.demo.baselines import plaintext_baselines
from sandbox.demo.consent import run_consent_demo
from sandbox.demo.governance import (
    CATALOGUE_CONDITIONS,
    DEMO_PROJECT,
    approve_project,
    revoke_and_score,
    show_refusals,
    show_usage_report,
)
from sandbox.demo.scorecard import run_scorecard_demo
from sandbox.governance import SANDBOX_PROJECT
from sandbox.launcher import PLATFORM, LocalFederation, NodeData
from sandbox.processes import ProcessFailed
from sandbox.synthdata import generate


def _print(line: str = "") -> None:
    print(line, flush=True)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    _print(fmt.format(*header))
    _print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        _print(fmt.format(*r))


# The demo's model: up to `trees` trees at this rate, stopped when the holdout AUC has not improved for
# EARLY_STOPPING rounds (20,000 enterprises stop after about 35: docs/synthetic-data.md 6).
LEARNING_RATE = 0.2
EARLY_STOPPING = 5
# Trees of each retrain without one source (marginal contributions): enough to rank the sources.
CONTRIBUTION_TREES = 10


def demo_job(sources: list[str], *, trees: int, key_bits: int, project: str = SANDBOX_PROJECT) -> str:
    passive = ", ".join(f'"source/{s}"' for s in sources)
    return (f'[job]\nname = "demo-credit-risk"\nproject = "{project}"\n\n[parties]\nactive = "{PLATFORM.party}"\n'
            f'passive = [{passive}]\n\n[psi]\nreveal = "both"\nbatch_size = 20000\n\n'
            f'[train]\nalgorithm = "secureboost"\nmodel_name = "credit-risk"\nn_trees = {trees}\nmax_depth = 3\n'
            f'learning_rate = {LEARNING_RATE}\nbins = 32\nearly_stopping_rounds = {EARLY_STOPPING}\n'
            f'key_bits = {key_bits}\nscheme = "paillier"\nholdout = 0.2\n\n'
            f'[evaluate]\ncontributions = true\ncontribution_trees = {min(trees, CONTRIBUTION_TREES)}\n')


def _ids(table: Path, id_column: str = "credit_code") -> set[str]:
    return set(pd.read_csv(table, usecols=[id_column], dtype=str)[id_column].dropna())


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="xyd-demo-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    _print(f"xyd demo: state in {state_dir}")
    _print(f"[1/8] generating synthetic enterprise data: {args.enterprises} enterprises, seed {args.seed}")
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
    # Each unit decides: no approval exists until the units sign them in step [2b].
    federation = LocalFederation(state_dir, platform, node_data, catalogue_conditions=CATALOGUE_CONDITIONS,
                                 approvals=())
    ok = False
    try:
        _print(f"[2/8] starting coordinator, platform and {len(sources)} source nodes as separate processes (mTLS)")
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
            _print(f"[2b/8] data governance: the operator files project {DEMO_PROJECT}; each source unit reviews "
                   "and signs its approval on its own node")
            approvals = approve_project(federation, sources, _print,
                                        verifier="tax" if "tax" in sources else sources[0])
            with federation.client() as client:
                _print(f"[3/8] joint job: PSI (ECDH on Curve25519) with {len(sources)} sources, then SecureBoost "
                       f"({args.trees} trees, Paillier-{args.key_bits}), then publish")
                job_id = client.submit(demo_job(sources, trees=args.trees, key_bits=args.key_bits,
                                                project=DEMO_PROJECT))
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
            all_results = stage_results(final)
            results = all_results["psi"]
            platform_ids = _ids(data_dir / "platform.csv")
            _print("[4/8] private set intersection")
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
            _print_model(all_results, data_dir, manifest, sources, args)
            _print(f"[6/8] a bank over HTTP ({federation.api_url})")
            codes = sorted(platform_ids)
            credentials = run_bank_demo(federation.api_url, federation.platform_config, codes, _print)
            _print("[6b/8] federated WOE scorecard (Paillier WOE/IV binning, CKKS vertical LR, coordinator as arbiter)")
            with federation.client() as client:
                if not run_scorecard_demo(client, sources, key_bits=args.key_bits,
                                          secureboost_metrics=all_results["train"][PLATFORM.party]["metrics"],
                                          out=_print, project=DEMO_PROJECT):
                    return 1
            _print("[6c/8] risk monitoring: a loan re-scored under the newer model, an alert by webhook")
            if not run_alert_demo(federation, credentials, sources, out=_print):
                _print("error: the monitoring scenario did not behave as expected (see the lines marked above)")
                return 1
            source = "tax" if "tax" in sources else sources[0]
            _print(f"[7/8] enterprises in control: consent over HTTP (xyd bank, xyd enterprise), verification (核验) "
                   f"at source/{source}; audit of the one log")
            consent_ok = run_consent_demo(
                pki_dir=federation.pki_dir, api_url=federation.api_url, platform_config=federation.platform_config,
                platform_address=federation.platform_address, platform_db=federation.platform_db,
                enterprise_ca=federation.enterprise_ca_dir, work_dir=state_dir / "parties",
                bank_api_key=credentials["demo_bank_api_key"], source=f"source/{source}",
                source_db=federation.node_state("source", source) / "verification" / "node.db",
                source_schema=node_data[source].schema, source_table=node_data[source].table,
                witness_addresses={f"source/{s}": (federation.node_state("source", s) / "address").read_text().strip()
                                   for s in sources},
                out=_print)
            if not consent_ok:
                _print("error: the consent scenario did not behave as expected (see the lines marked above)")
                return 1
            reviewer = "tax" if "tax" in sources else None
            if reviewer is not None:
                _print("[7b/8] source units decide: an unapproved item refused, a not_shared column kept home, "
                       "a revocation that stops online scoring through the unit, the unit's usage report")
                governed = show_refusals(federation, sources, all_results["train"], _print)
                governed &= revoke_and_score(federation, approvals[reviewer], credentials["demo_bank_api_key"],
                                             codes[0], _print)
                governed &= show_usage_report(federation, _print)
                if not governed:
                    _print("error: the governance scenario did not behave as expected (see the lines marked above)")
                    return 1
            if not args.skip_banks:
                _print("[8/8] horizontal learning among three banks (Flower SuperLink + SuperNodes, TLS, "
                       "CKKS-encrypted aggregation)")
                summary = run_banks_demo(data_dir, manifest, state_dir / "banks", _print)
                final = summary["final"]
                per_bank = ", ".join(f"{b} {v['holdout-auc']:.4f}" for b, v in sorted(final["banks"].items()))
                _print(f"      {summary['rounds']} rounds in {summary['seconds']:.1f}s, {summary['bytes_on_wire']:,} bytes "
                       f"on the wire; holdout AUC {final['holdout_auc']:.4f} ({per_bank})")
                registered = register_banks_model(state_dir / "banks", federation.operator_config_path(),
                                                  federation.platform_config)
                _print(f"      {registered}")
            with federation.client() as client:
                _print("      model registry:")
                for entry in client.models():
                    _print(f"        {entry.model_id:<36} v{entry.version} {entry.name:<20} {entry.algorithm:<22} "
                           f"{len(entry.parties)} parties")
            if args.keep_running:
                logins = console_logins(federation.platform_config, credentials)
                admin_consoles = source_admin_consoles(federation)
                endpoints = state_dir / "endpoints.json"
                endpoints.write_text(json.dumps({"api_url": federation.api_url, **credentials,
                                                 "console_url": f"{federation.api_url}/console/",
                                                 "console_logins": logins,
                                                 "source_admin_consoles": admin_consoles,
                                                 "example_credit_code": codes[0],
                                                 "operator_config": str(federation.operator_config_path()),
                                                 "platform_config": str(federation.platform_config)}, indent=2))
                _print(f"web console: {federation.api_url}/console/ (log in with an API key; the 企业 view "
                       f"arrives with its API)")
                for role, key in logins.items():
                    _print(f"  {role:<34} {key}")
                _print("source-unit administrators' consoles (log in by choosing the unit's approval key file):")
                for unit, entry in admin_consoles.items():
                    _print(f"  {unit:<34} {entry['console_url']}  key {entry['approval_key']}")
                _print(f"federation left running; endpoints and demo credentials in {endpoints}; Ctrl-C stops it")
                while True:
                    federation.group.check_alive()
                    time.sleep(1.0)
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
        if ok and not args.state_dir and not args.keep_state and not args.keep_running:
            shutil.rmtree(state_dir, ignore_errors=True)


def source_admin_consoles(federation: LocalFederation) -> dict[str, dict[str, str]]:
    """Each source unit's administrator console (on its node's admin address) and its approval key file."""
    consoles = {}
    for name in federation.sources:
        url = (federation.node_state("source", name) / "admin_url").read_text(encoding="utf-8").strip()
        consoles[f"source/{name}"] = {"console_url": federation.placement.reach_admin(f"source/{name}", url) + "/console/",
                                      "approval_key": str(federation.approval_key(name))}
    return consoles


def console_logins(platform_config: Path, credentials: dict[str, str]) -> dict[str, str]:
    """An API key for each console role: the demo bank's, and a compliance officer, an operator and the
    first-loan centre onboarded now (`xyd institution add`, as an operator would)."""
    return {
        "bank (bank/demo-bank)": credentials["demo_bank_api_key"],
        "compliance (regulator/demo-compliance)": onboard(platform_config, "demo-compliance",
                                                          "Demo Compliance Office", role="compliance"),
        "operator and modeller (platform/demo-ops)": onboard(platform_config, "demo-ops", "Demo Operations",
                                                             role="admin"),
        "first-loan centre (regulator/demo-centre)": onboard(platform_config, "demo-centre",
                                                             "首贷续贷服务中心 (demo)", role="statistics"),
    }


def _print_model(results: dict, data_dir: Path, manifest, sources: list[str], args: argparse.Namespace) -> None:
    train = results["train"][PLATFORM.party]
    published = results["publish"][PLATFORM.party]
    metrics = train["metrics"]
    _print(f"[5/8] joint model {published['model_id']}: {train['trees']} trees on {train['rows_train']} rows, "
           f"{train['train_seconds']:.1f}s; holdout {train['rows_holdout']} rows")
    units = {u.name: (data_dir / u.schema, data_dir / u.table) for u in manifest.units if u.name in sources}
    baselines = plaintext_baselines((data_dir / manifest.platform.schema, data_dir / manifest.platform.table), units,
                                    label="default", n_trees=args.trees, max_depth=3, learning_rate=LEARNING_RATE,
                                    bins=32, early_stopping_rounds=EARLY_STOPPING)
    rows = [["federated SecureBoost (encrypted)", "all", str(train["trees"]),
             f"{metrics.get('auc_holdout', float('nan')):.4f}", f"{metrics.get('ks_holdout', float('nan')):.4f}"]]
    rows += [[f"plaintext XGBoost: {b.name}", str(b.features), str(b.trees), f"{b.auc_holdout:.4f}",
              f"{b.ks_holdout:.4f}"] for b in baselines]
    _table(rows, ["model", "features", "trees", "AUC (holdout)", "KS (holdout)"])
    splits = ", ".join(f"{p}: {v['splits']}" for p, v in sorted(train["importance_by_party"].items()))
    _print(f"      splits per party (names stay with their owner): {splits}")
    evaluation = results.get("evaluate", {}).get(PLATFORM.party, {})
    if evaluation.get("contributions"):
        _print(f"      marginal contribution (holdout AUC lost without the party, {evaluation['contribution_trees']}-tree "
               f"retrains, all parties: {evaluation['auc_holdout_all']:.4f}):")
        for party, c in sorted(evaluation["contributions"].items(), key=lambda kv: -kv[1]["marginal_auc"]):
            _print(f"        {party:<26} {c['marginal_auc']:+.4f}")
