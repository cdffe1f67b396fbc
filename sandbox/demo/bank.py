"""The bank's side of the demo, over real HTTP: onboard two banks, score, report feedback, isolation check.

Everything goes through the public surfaces a bank or an operator would use: `xyd institution add` (a
separate process) and the platform's HTTP API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from consent.authorisation import Purpose
from sandbox.processes import ProcessFailed


def onboard(platform_config: Path, slug: str, name: str, role: str = "bank", *, limits: tuple[float, int, int] | None = None
            ) -> str:
    """`xyd institution add` as an operator runs it; returns the API key it prints once.

    `limits` = (requests per second, burst, enterprises per day) overrides the platform's defaults.
    """
    extra = [] if limits is None else ["--rate", str(limits[0]), "--burst", str(limits[1]),
                                       "--daily-quota", str(limits[2])]
    proc = subprocess.run([sys.executable, "-m", "cli.main", "institution", "add", "--config",
                           str(platform_config), "--kind", {"bank": "bank", "admin": "platform"}.get(role, "regulator"),
                           "--slug", slug, "--name", name, "--role", role, *extra],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ProcessFailed(f"xyd institution add failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["api_key"]


# Applications reviewed in step [6]; the risk-monitoring step lends to the one the newer model rates worst.
REVIEWED_APPLICATIONS = 16
APPLICATION_PREFIX = "LA-2026-01"


def run_bank_demo(api_url: str, platform_config: Path, credit_codes: list[str],
                  say: Callable[[str], None]) -> dict[str, str]:
    """Score an enterprise, post the lending decision, show that another bank cannot see the use; review a few
    more applications (the risk-monitoring step lends to one of them)."""

    key = onboard(platform_config, "demo-bank", "Demo Commercial Bank")
    other = onboard(platform_config, "other-bank", "Another Bank")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api_url, timeout=30.0) as http:
        denied = http.post("/v1/scores", json={"credit_code": credit_codes[0], "purpose": "PRE_LOAN_REVIEW",
                                               "loan_application_ref": "LA-2026-0001"})
        say(f"      without an API key: HTTP {denied.status_code}")
        reply = http.post("/v1/scores", headers=headers, json={
            "credit_code": credit_codes[0], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-2026-0001"})
        if reply.status_code != 200:
            raise ProcessFailed(f"POST /v1/scores answered {reply.status_code}: {reply.text[:300]}")
        score = reply.json()
        say(f"      POST /v1/scores {score['credit_code']}: PD {score['probability_of_default']:.3f}, "
            f"score {score['score']}, grade {score['grade']}, reasons {score['reason_codes']}")
        say(f"      use {score['use_id']} (feedback due {score['feedback_due_at']}), audit leaf "
            f"#{score['audit']['leaf_index']} (tree size {score['audit']['tree_size']}) for model {score['model_id']} {score['model_version']}")
        feedback = http.post(f"/v1/uses/{score['use_id']}/feedback", headers=headers, json={
            "type": "decision", "decision": "GRANTED", "amount_cny": 2000000, "annual_rate": 0.0385,
            "term_months": 12})
        if feedback.status_code != 201:
            raise ProcessFailed(f"feedback answered {feedback.status_code}: {feedback.text[:300]}")
        say(f"      POST feedback (granted 2,000,000 CNY at 3.85% for 12 months): {feedback.json()['code']}")
        peek = http.get(f"/v1/uses/{score['use_id']}", headers={"Authorization": f"Bearer {other}"})
        say(f"      another bank reading that use: HTTP {peek.status_code} (institutions see only their own)")
        batch = http.post("/v1/scores/batch", headers=headers, json={
            "credit_codes": credit_codes[1:51], "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-2026-0002"})
        say(f"      batch of 50 without a data-security agreement: HTTP {batch.status_code}")
        review_applications(http, headers, credit_codes[51:51 + REVIEWED_APPLICATIONS], say)
    return {"demo_bank_api_key": key, "other_bank_api_key": other}


def checked_json(reply: httpx.Response, expected: int, what: str) -> dict[str, Any]:
    """The JSON body of a reply with the `expected` status; `ProcessFailed` otherwise."""
    if reply.status_code != expected:
        raise ProcessFailed(f"{what} answered {reply.status_code}: {reply.text[:300]}")
    return reply.json()


def review_applications(http: httpx.Client, headers: dict[str, str], credit_codes: Sequence[str],
                        say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Score each enterprise's loan application one by one (step [6]); the uses the bank keeps."""
    scored = []
    for n, code in enumerate(credit_codes, start=1):
        scored.append(checked_json(http.post("/v1/scores", headers=headers, json={
            "credit_code": code, "purpose": Purpose.PRE_LOAN_REVIEW.value,
            "loan_application_ref": f"{APPLICATION_PREFIX}{n:02d}"}), 200, "POST /v1/scores"))
    grades = ", ".join(f"{s['score']} {s['grade']}" for s in scored)
    say(f"      {len(scored)} more applications reviewed one by one (scores kept as the lending baseline): {grades}")
    return scored
