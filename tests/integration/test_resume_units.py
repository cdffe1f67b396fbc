"""Crash and resume of the other checkpointed units over real processes: a source node SIGKILLed in the
middle of a vertical LR training (after at least one epoch; the platform and the coordinator too) or of a PSI (after some rounds), started again;
the stage resumes from the last unit every party holds and ends with what an uninterrupted job of the same
file gives: the same predictions to 1e-9 (LR in plaintext mode: the row order comes from the job's seed,
and no flooding noise or CKKS error differs between runs) and the same intersections (PSI)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from federation.job_files import read_intersection
from models.scorecard.stored import lr_model, read_part
from sandbox.launcher import LocalFederation, NodeData
from sandbox.synthdata import generate

SOURCES = ("tax", "utilities")
PASSIVE = [f"source/{s}" for s in SOURCES]
EPOCHS = 40
LR_JOB = f"""
[job]
name = "lr-resume"
project = "sandbox"
stages = ["psi", "train"]

[parties]
active = "platform/main"
passive = ["source/tax", "source/utilities"]

[psi]
reveal = "both"

[train]
algorithm = "hetero_lr"
model_name = "lr-resume-it"
key_bits = 1024
holdout = 0.25
encrypted = false
epochs = {EPOCHS}
batch_size = 128
learning_rate = 0.3
tol = 0.0
seed = 7
"""
PSI_JOB = """
[job]
name = "psi-resume"
project = "sandbox"
stages = ["psi"]

[parties]
active = "platform/main"
passive = ["source/tax", "source/utilities"]

[psi]
reveal = "both"
batch_size = 25
"""


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("data")
    generate(1500, 11, data)
    federation = LocalFederation(
        tmp_path_factory.mktemp("fed") / "state",
        NodeData(data / "platform.toml", data / "platform.csv"),
        {s: NodeData(data / f"{s}.toml", data / f"{s}.csv") for s in SOURCES},
        node_policy={"allow_insecure_keys_for_tests": True, "allow_plaintext_training": True}, with_api=False,
        coordinator_jobs={"resume_wait_seconds": 180, "resume_poll_seconds": 0.5},
    )
    with federation:
        yield federation
    for member in federation.group.members:
        assert member.process.poll() is not None, f"{member.name} still running after stop"


def _job_folder(fed: LocalFederation, party: str, job_id: str) -> Path:
    return fed.state_dir / "nodes" / party.replace("/", "-") / "state" / "jobs" / job_id


def _finish(fed: LocalFederation, job_id: str):
    with fed.client() as client:
        events = [e.message for e in client.watch(job_id, timeout=600)]
        return client.status(job_id), events


def _stage(status, name: str):
    return next(s for s in status.stages if s.stage == name)


def _crash_when(fed: LocalFederation, spec: str, party: str, stage: str, unit: int) -> str:
    """Submit `spec`, SIGKILL `party` as soon as it holds checkpoint `unit` of `stage`, start it again."""
    with fed.client() as client:
        job_id = client.submit(spec)
        folder = _job_folder(fed, party, job_id) / "checkpoints" / stage
        deadline, checked = time.monotonic() + 300, time.monotonic()
        while time.monotonic() < deadline:
            held = [int(p.stem) for p in folder.glob("*.ckpt")] if folder.is_dir() else []
            if held and max(held) >= unit:
                fed.kill(party)
                fed.restart(party)
                return job_id
            if time.monotonic() - checked > 0.5:
                checked = time.monotonic()
                state = client.status(job_id).state
                assert state in ("PENDING", "RUNNING"), f"{job_id} ended ({state}) before {party} held {unit}"
            time.sleep(0.002)
    raise AssertionError(f"{party} never held checkpoint {unit} of {stage}")


@pytest.fixture(scope="module")
def lr_reference(fed: LocalFederation) -> str:
    with fed.client() as client:
        job_id = client.submit(LR_JOB)
    status, _ = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    assert _stage(status, "train").attempts == 1
    return job_id


def _predictions(fed: LocalFederation, job_id: str) -> np.ndarray:
    scores = np.load(_job_folder(fed, "platform/main", job_id) / "lr-scores.npz")
    return np.concatenate([scores["p_train"], scores["p_holdout"]])


@pytest.mark.parametrize("party", ["source/tax", "platform/main", "coordinator/main"])
def test_a_party_killed_mid_lr_training_resumes_from_a_common_epoch_to_the_same_model(
        fed: LocalFederation, lr_reference: str, party: str) -> None:
    """The source is a host, the platform the guest, the coordinator the arbiter (and the job's runner)."""
    job_id = _crash_when(fed, LR_JOB, party, "train", 2)
    status, events = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    train = _stage(status, "train")
    assert train.attempts == 2 and 1 <= train.resumed_from < EPOCHS, train
    if party != "coordinator/main":  # a restarted coordinator's feed starts after its restart
        assert f"attempt 2 runs from checkpoint {train.resumed_from}" in "\n".join(events)
    # Every party, the coordinator's arbiter included, resumed the same epoch from its own checkpoint.
    arbiter = _job_folder(fed, "coordinator/main", job_id) / "checkpoints" / "train"
    assert max(int(p.stem) for p in arbiter.glob("*.ckpt")) == EPOCHS - 1
    np.testing.assert_allclose(_predictions(fed, job_id), _predictions(fed, lr_reference), rtol=0, atol=1e-9)
    for party in ("platform/main", *PASSIVE):
        got = lr_model(read_part(_job_folder(fed, party, job_id) / "lr-trained.bin", "hetero_lr"))
        want = lr_model(read_part(_job_folder(fed, party, lr_reference) / "lr-trained.bin", "hetero_lr"))
        np.testing.assert_allclose(got.weights, want.weights, rtol=0, atol=1e-9)
        assert got.intercept == pytest.approx(want.intercept, abs=1e-9)


def _intersections(fed: LocalFederation, job_id: str) -> dict[str, list[str]]:
    platform = _job_folder(fed, "platform/main", job_id)
    found = {f"platform~{p}": read_intersection(platform, p) for p in PASSIVE}
    return found | {p: read_intersection(_job_folder(fed, p, job_id)) for p in PASSIVE}


def test_a_source_killed_mid_psi_resumes_at_the_next_round_to_the_same_intersection(fed: LocalFederation) -> None:
    with fed.client() as client:
        reference = client.submit(PSI_JOB)
    status, _ = _finish(fed, reference)
    assert status.state == "SUCCEEDED", status.error
    job_id = _crash_when(fed, PSI_JOB, "source/tax", "psi", 4)
    status, events = _finish(fed, job_id)
    assert status.state == "SUCCEEDED", status.error
    psi = _stage(status, "psi")
    assert psi.attempts == 2 and psi.resumed_from >= 1, psi
    assert f"attempt 2 runs from checkpoint {psi.resumed_from}" in "\n".join(events)
    assert any(f"resumed after round {psi.resumed_from} of" in e for e in events), events
    assert _intersections(fed, job_id) == _intersections(fed, reference)
    assert all(len(v) > 100 for v in _intersections(fed, job_id).values())
    # Nothing of the run stays behind: journals (with the secret scalars) and checkpoints are gone.
    for party in ("platform/main", *PASSIVE):
        folder = _job_folder(fed, party, job_id)
        assert not (folder / "psi-journal").exists() and not (folder / "checkpoints" / "psi").exists()
