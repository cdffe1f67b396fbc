"""The demo's scorecard step: a federated WOE scorecard job over the running federation, shown next to
SecureBoost's holdout figures, with the IV ranking as each party may see it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cli.operator_client import stage_results
from sandbox.governance import SANDBOX_PROJECT

PLATFORM = "platform/main"


def scorecard_job(sources: Sequence[str], *, key_bits: int, epochs: int = 15, project: str = SANDBOX_PROJECT) -> str:
    """The demo's scorecard job file: PSI, WOE binning (Paillier), LR with the coordinator as arbiter."""
    passive = ", ".join(f'"source/{s}"' for s in sources)
    return (f'[job]\nname = "demo-scorecard"\nproject = "{project}"\n\n[parties]\nactive = "{PLATFORM}"\npassive = [{passive}]\n\n'
            f'[psi]\nreveal = "both"\nbatch_size = 20000\n\n'
            f'[train]\nalgorithm = "scorecard"\nmodel_name = "credit-scorecard"\nkey_bits = {key_bits}\n'
            f'holdout = 0.2\nepochs = {epochs}\nbatch_size = 2048\nlearning_rate = 0.5\nl2 = 0.001\n'
            f'pdo = 20\nbase_score = 600\nbase_odds = 50\n\n'
            f'[binning]\nbins = 10\nmin_iv = 0.02\nmin_bin_fraction = 0.05\n')


def run_scorecard_demo(client, sources: Sequence[str], *, key_bits: int,
                       secureboost_metrics: Mapping[str, Any], out: Callable[[str], None] = print,
                       top: int = 8, project: str = SANDBOX_PROJECT) -> bool:
    """Submit the scorecard job through `client` (a connected CoordinatorClient), print its holdout
    AUC/KS/Gini/PSI next to `secureboost_metrics` and the IV ranking; returns whether the job succeeded."""
    started = time.monotonic()
    job_id = client.submit(scorecard_job(sources, key_bits=key_bits, project=project))
    out(f"      scorecard job {job_id}: PSI, WOE binning (Paillier-{key_bits} labels), vertical LR "
        "(CKKS, coordinator as arbiter), points")
    final = None
    for event in client.watch(job_id):
        if event.HasField("status"):
            final = event.status
        elif event.message and event.party == PLATFORM and event.stage != "psi":
            out(f"      [{event.party}] {event.stage}: {event.message}")  # PSI was shown with SecureBoost
    final = final or client.status(job_id)
    if final.state != "SUCCEEDED":
        out(f"error: scorecard job {job_id} {final.state}: {final.error}")
        return False
    results = stage_results(final)
    evaluation = results["evaluate"][PLATFORM]
    metrics = evaluation["metrics"]
    train = results["train"][PLATFORM]
    published = results["publish"][PLATFORM]

    def cell(values: Mapping[str, Any], key: str) -> str:
        value = values.get(key)
        return f"{value:.4f}" if isinstance(value, int | float) else "-"

    out(f"      scorecard {published['model_id']}: {train['epochs']} epochs ({train['stop_reason']}), "
        f"{train['train_seconds']:.1f}s training, {time.monotonic() - started:.1f}s in all")
    header = ["model", "AUC (holdout)", "KS (holdout)", "Gini (holdout)", "PSI train->holdout"]
    rows = [["federated SecureBoost", cell(secureboost_metrics, "auc_holdout"), cell(secureboost_metrics, "ks_holdout"),
             f"{2 * secureboost_metrics['auc_holdout'] - 1:.4f}" if "auc_holdout" in secureboost_metrics else "-",
             cell(secureboost_metrics, "psi_holdout")],
            ["federated WOE scorecard", cell(metrics, "auc_holdout"), cell(metrics, "ks_holdout"),
             cell(metrics, "gini_holdout"), cell(metrics, "psi_holdout")]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        out("      " + "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))
    out(f"      top {top} variables by information value (platform's view: its own names, opaque ids for others):")
    for entry in evaluation["iv_ranking"][:top]:
        mark = "selected" if entry["selected"] else "dropped"
        out(f"        #{entry['rank']:<3} {entry['variable']:<40} IV {entry['iv']:.3f}  {mark}")
    own = [e for e in evaluation["iv_ranking"] if e["own"]][:top]
    out("      the platform's own variables: " + ", ".join(f"{e['variable']} (IV {e['iv']:.3f}, #{e['rank']})"
                                                        for e in own))
    return True
