"""The horizontal part of the demo: three banks' loan books, one common model trained with Flower.

The launcher cuts the synthetic platform customers into three disjoint loan books by district (different
enterprises, the same standardised variables), as pilot banks would hold them, then runs
`xyd federate-banks` (SuperLink + one SuperNode per bank, TLS, node authentication) as a separate process.
The operator registers the model and publishes it to the platform, and a pilot bank scores an applicant
with it over the platform's HTTP API, sending its own customer's standardised variables.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from consent.authorisation import Purpose
from consent.credit_code import generate_credit_code
from federation.config import load_node_config
from models.horizontal.published import PUBLISHED_MODELS_SUBDIR
from sandbox.demo.bank import checked_json, onboard
from sandbox.launcher import PLATFORM
from sandbox.processes import ProcessFailed
from tables import load_table
from tables.features import feature_matrix


def write_loan_books(data_dir: Path, manifest, out_dir: Path, banks: int = 3) -> list[tuple[str, Path]]:
    """CSV loan books (id, y, standardised variables) for `banks` banks, split by registration district."""
    platform = load_table(data_dir / manifest.platform.schema, data_dir / manifest.platform.table)
    ids = sorted(str(i) for i in platform.ids)
    blocks = [feature_matrix(platform, exclude=["default"], rows=ids)]
    for unit in manifest.units:
        if unit.name in ("tax", "social_insurance"):
            blocks.append(feature_matrix(load_table(data_dir / unit.schema, data_dir / unit.table), rows=ids))
    values = np.column_stack([b.values for b in blocks])
    names = [n for b in blocks for n in b.names]
    mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    z = np.nan_to_num((values - mean) / np.where(std > 0, std, 1.0))
    y = platform.frame.loc[ids, "default"].astype(int).to_numpy()
    district = platform.frame.loc[ids, "district"].astype(str).to_numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    books = []
    order = sorted(set(district))
    for b in range(banks):
        rows = np.isin(district, order[b::banks])
        path = out_dir / f"bank{b + 1}.csv"
        with path.open("w") as f:
            f.write(",".join(["id", "y", *names]) + "\n")
            for i in np.flatnonzero(rows):
                f.write(",".join([str(i), str(y[i]), *(f"{v:.6g}" for v in z[i])]) + "\n")
        books.append((f"bank{b + 1}", path))
    return books


def run_banks_demo(data_dir: Path, manifest, work_dir: Path, say: Callable[[str], None], rounds: int = 2) -> dict:
    """Train across the banks on loopback; returns the run's summary."""
    books = write_loan_books(data_dir, manifest, work_dir / "loan-books")
    for name, path in books:
        say(f"      {name}: {sum(1 for _ in path.open()) - 1} loans")
    command = [sys.executable, "-m", "cli.main", "federate-banks", "--rounds", str(rounds),
               "--workdir", str(work_dir / "flower"), "--timeout", "400", "--out", str(work_dir / "model"),
               *[a for name, path in books for a in ("--bank", f"{name}={path}")]]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=480)
    if proc.returncode != 0:
        raise ProcessFailed(f"xyd federate-banks failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    text = proc.stdout
    return json.loads(text[text.index("{"):])


def demo_platform_config(operator_config: Path) -> Path:
    """The platform node's TOML as the demo launcher lays out its state folder (beside operator.toml)."""
    return operator_config.parent / "nodes" / f"{PLATFORM.role}-{PLATFORM.name}" / "node.toml"


def horizontal_models_dir(platform_config: Path) -> Path:
    """The folder the platform's API serves horizontal models from (`[api] horizontal_models_dir`)."""
    config = load_node_config(platform_config)
    configured = config.section("api").get("horizontal_models_dir")
    return config.path(configured) if configured else config.state_dir / PUBLISHED_MODELS_SUBDIR


def register_banks_model(work_dir: Path, operator_config: Path, platform_config: Path | None = None) -> str:
    """`xyd model register --publish-to` as an operator runs it: the banks' model enters the coordinator's
    registry and the platform's served models; then a pilot bank scores an applicant with it over HTTP.

    Returns the lines to show (continuation lines indented like the demo's). Without a platform node
    config (given, or found beside `operator_config`), the model is only registered.
    """
    platform_config = platform_config or demo_platform_config(operator_config)
    served = platform_config.exists()
    publish = ["--publish-to", str(horizontal_models_dir(platform_config))] if served else []
    proc = subprocess.run([sys.executable, "-m", "cli.main", "model", "register", "--file",
                           str(work_dir / "model" / "model.json"), "--report", str(work_dir / "model" / "report.json"),
                           "--name", "banks-common-risk", "--operator", str(operator_config), *publish],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ProcessFailed(f"xyd model register failed: {proc.stderr.strip()[-500:]}")
    lines = proc.stdout.strip().splitlines()
    if served:
        lines += score_with_banks_model(platform_config, work_dir / "loan-books" / "bank1.csv")
    return "\n      ".join(lines)


def score_with_banks_model(platform_config: Path, loan_book: Path, *, seed: int = 7) -> list[str]:
    """A pilot bank (onboarded now) lists the served models and scores one applicant with the banks' model,
    sending the applicant's standardised variables (here the last row of its loan book; a fresh credit code)."""
    api_url = (load_node_config(platform_config).state_dir / "api_url").read_text(encoding="utf-8").strip()
    key = onboard(platform_config, "pilot-bank1", "Pilot Bank 1")
    headers = {"Authorization": f"Bearer {key}"}
    with loan_book.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    names, values = rows[0][2:], rows[-1][2:]  # columns: id, y, then the variables
    with httpx.Client(base_url=api_url, timeout=30.0) as http:
        listed = checked_json(http.get("/v1/models", headers=headers), 200, "GET /v1/models")["items"]
        horizontal = [m for m in listed if m["kind"].startswith("horizontal_")]
        if not horizontal:
            raise ProcessFailed("GET /v1/models lists no horizontal model after publishing")
        model = max(horizontal, key=lambda m: m["created_at"])
        score = checked_json(http.post(f"/v1/models/{model['model_id']}/scores", headers=headers, json={
            "purpose": Purpose.PRE_LOAN_REVIEW.value, "loan_application_ref": "PB1-2026-0001",
            "credit_code": generate_credit_code(random.Random(seed)),
            "variables": {n: float(v) for n, v in zip(names, values, strict=True)}}), 200,
            "POST /v1/models/{model_id}/scores")
    served = ", ".join(f"{m['model_id']} ({m['kind']})" for m in listed)
    return [
        f"GET /v1/models: {served}",
        f"pilot bank1 scores an applicant with {score['model_id']} from its own {len(names)} standardised "
        f"variables: PD {score['probability_of_default']:.3f}, score {score['score']}, grade {score['grade']}, "
        f"reasons {score['reason_codes']}",
        f"use {score['use_id']} (feedback due {score['feedback_due_at']}), audit leaf #{score['audit']['leaf_index']}",
    ]
