"""Crash and resume over real processes: a source node or the coordinator SIGKILLed in the middle of a
SecureBoost training and started again; the job resumes from the last common checkpoint and publishes the
very model an uninterrupted run of the same job gives (`sandbox.replay`: the same inputs and split keys,
trained in one process; two separate jobs differ where gains tie, see there). Then job control (cancel,
cleanup, retry), liveness and a certificate revoked mid-job. The platform crash, dropped links and a full
audit disk are in `python -m benchmarks resilience`."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.operator_client import OperatorError
from federation.pki import CertificateAuthority, Identity
from models.secureboost import ActiveModel
from sandbox.launcher import LocalFederation, NodeData
from sandbox.replay import predictions, published_predictions, replay_secureboost
from sandbox.synthdata import generate
from tests.models.secureboost.support import same_trees

pytestmark = pytest.mark.slow

SOURCES = ("tax", "utilities")
TREES = 5
JOB = f"""
[job]
name = "resume"
stages = ["psi", "train", "publish"]

[parties]
active = "platform/main"
passive = ["source/tax", "source/utilities"]

[psi]
reveal = "both"

[train]
algorithm = "secureboost"
model_name = "resume-it"
n_trees = {TREES}
max_depth = 3
bins = 16
key_bits = 1024
holdout = 0.25
subsample = 0.8
colsample_bytree = 0.8
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(800, 13, out)
    return out


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    federation = LocalFederation(
        tmp_path_factory.mktemp("fed") / "state",
        NodeData(data_dir / "platform.toml", data_dir / "platform.csv"),
        {s: NodeData(data_dir / f"{s}.toml", data_dir / f"{s}.csv") for s in SOURCES},
        node_policy={"allow_insecure_keys_for_tests": True}, with_api=False,
        # A restarted node takes tens of seconds to load on a busy machine.
        coordinator_jobs={"resume_wait_seconds": 180, "resume_poll_seconds": 0.5},
    )
    with federation:
        yield federation
    for member in federation.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


def _same_as_uninterrupted(fed: LocalFederation, status) -> None:
    """The published parts equal those of the same job run without interruption, tree for tree."""
    model_id = _model_id(status)
    active, passives = replay_secureboost(fed, status.job_id, JOB)
    root = fed.node_state("platform", "main") / "models" / model_id
    same_trees(ActiveModel.from_bytes((root / "secureboost-active.bin").read_bytes()), active)
    np.testing.assert_allclose(published_predictions(fed, model_id), predictions(fed, active, passives),
                               rtol=0, atol=1e-9)


def _model_id(status) -> str:
    publish = next(s for s in status.stages if s.stage == "publish")
    return json.loads(publish.results["platform/main"])["model_id"]


def _run_until(fed: LocalFederation, marker: str, action) -> tuple[str, list[str]]:
    """Submit the job, call `action(job_id)` once a progress message contains `marker`, follow it to its end
    (or stop following when the action says so)."""
    messages: list[str] = []
    with fed.client() as client:
        job_id = client.submit(JOB)
        acted = False
        with contextlib.suppress(OperatorError):  # the coordinator itself may be the one killed
            for event in client.watch(job_id, timeout=600):
                messages.append(event.message)
                if not acted and marker in event.message:
                    acted = True
                    if action(job_id) == "stop watching":
                        break
        assert acted, f"never saw {marker!r}: {messages}"
    return job_id, messages


def _finish(fed: LocalFederation, job_id: str):
    with fed.client() as client:
        for _ in client.watch(job_id, timeout=600):
            pass
        return client.status(job_id)


def test_an_uninterrupted_job_equals_its_replay(fed: LocalFederation) -> None:
    """The reference the resumed jobs are held to, checked on a job nothing interrupted."""
    with fed.client() as client:
        job_id = client.submit(JOB)
    status = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    assert _train_stage(status).attempts == 1
    _same_as_uninterrupted(fed, status)


def _train_stage(status):
    return next(s for s in status.stages if s.stage == "train")


def test_a_source_killed_mid_training_resumes_to_the_same_model(fed: LocalFederation) -> None:
    def crash(_: str) -> None:
        fed.kill("source/tax")
        fed.restart("source/tax")

    job_id, _ = _run_until(fed, f"tree 2/{TREES}", crash)
    status = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    train = _train_stage(status)
    assert train.attempts == 2 and 2 <= train.resumed_from <= TREES
    events = "\n".join(_events(fed, job_id))
    assert "source/tax: stopped answering during the task (connection lost" in events
    assert f"attempt 2 runs from checkpoint {train.resumed_from}" in events
    shown = _xyd(fed, "job", "status", job_id)
    assert f"(2 runs, last from checkpoint {train.resumed_from})" in shown.stdout
    _same_as_uninterrupted(fed, status)


def test_a_coordinator_killed_mid_training_resumes_after_its_restart(fed: LocalFederation) -> None:
    def crash(_: str) -> str:
        fed.kill("coordinator/main")
        return "stop watching"

    job_id, _ = _run_until(fed, f"tree 2/{TREES}", crash)
    fed.restart("coordinator/main")
    status = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    train = _train_stage(status)
    assert train.attempts == 2 and train.resumed_from >= 2
    _same_as_uninterrupted(fed, status)


def _xyd(fed: LocalFederation, *args: str) -> subprocess.CompletedProcess:
    """The operator's command line, as a separate process."""
    return subprocess.run([sys.executable, "-m", "cli.main", *args, "--operator", str(fed.operator_config_path())],
                          capture_output=True, text=True, timeout=120)


def _events(fed: LocalFederation, job_id: str) -> list[str]:
    with fed.client() as client:
        return [e.message for e in client.watch(job_id, timeout=60)]


def _job_folder(fed: LocalFederation, party: str, job_id: str) -> Path:
    return fed.state_dir / "nodes" / party.replace("/", "-") / "state" / "jobs" / job_id


def test_cancel_stops_every_party_then_cleanup_removes_the_job_files_and_retry_starts_afresh(
        fed: LocalFederation) -> None:
    parties = ("platform/main", "source/tax", "source/utilities")
    holder: dict[str, object] = {}

    def cancel(job_id: str) -> None:
        with fed.client() as client:
            holder["status"] = client.cancel(job_id)

    job_id, _ = _run_until(fed, f"tree 1/{TREES}", cancel)
    cancelled = holder["status"]
    assert cancelled.state == "CANCELLED" and cancelled.job_id == job_id
    assert _train_stage(cancelled).state == "CANCELLED"
    with fed.client() as client:
        assert job_id in {j.job_id for j in client.jobs(state="CANCELLED")}
        with pytest.raises(OperatorError, match="CONFLICT.*only an interrupted or failed job"):
            client.resume(job_id)
        assert all(_job_folder(fed, p, job_id).exists() for p in parties)
        summary = client.cleanup(job_id)
        assert {p.party for p in summary.parties} == set(parties)
        assert all(not p.error and p.files_removed > 0 for p in summary.parties), summary
        assert not any(_job_folder(fed, p, job_id).exists() for p in parties)
        retried = client.retry(job_id)
        assert retried != job_id
        client.cancel(retried)  # it ran from scratch as a job of its own; nothing more to see here
        assert client.status(retried).state == "CANCELLED"
        with pytest.raises(OperatorError, match="NOT_FOUND"):
            client.cancel("job-00000000-000000-000000")


def test_nodes_show_liveness_and_a_certificate_revoked_mid_job_fails_it_naming_the_party(
        fed: LocalFederation) -> None:
    """Runs last: source/tax stays revoked."""
    with fed.client() as client:
        nodes = {n.party: n for n in client.nodes(probe=True)}
    assert all(n.answering and n.last_seen >= n.registered_at > 0 for n in nodes.values()), nodes
    shown = _xyd(fed, "nodes")
    assert shown.returncode == 0 and shown.stdout.count(" answering ") == 3, shown.stdout
    listed = _xyd(fed, "job", "list", "--state", "succeeded")
    assert listed.returncode == 0 and listed.stdout.count("SUCCEEDED") >= 3, listed.stdout

    def revoke(_: str) -> None:
        CertificateAuthority.load(fed.pki_dir).revoke_identity(Identity.parse("source/tax"))

    job_id, _ = _run_until(fed, f"tree 1/{TREES}", revoke)
    status = _finish(fed, job_id)
    assert status.state == "FAILED"
    assert status.error.startswith("stage train: source/tax: PEER_REFUSED: ")
    assert "source/tax was revoked" in status.error and "Cancelling" not in status.error
    assert _train_stage(status).attempts == 1  # a revoked certificate is not retried
