"""Attacks over gRPC on running node processes (issue 16, items 1-3), each run against real processes.

1. Memory: a forged mailbox header announcing 1 GiB, from a bank, from a peer outside the job, and from a
   party of a running job, must not make the node allocate what was announced.
2. Starvation: stalled uploads and stalled unary requests from one peer must neither hold the node's threads
   (online scoring still answers at once) nor stay open past the idle deadline.
3. Path traversal: a job id must never name a folder outside the node's state directory.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from federation.proto import (
    control_pb2,
    control_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from tests.integration.grpc_attacker import (
    ADMIN,
    BANK,
    COURT,
    PLATFORM,
    PUSH,
    TAX,
    TEST_LIMITS,
    Victims,
    chunk_frame,
    first_event,
    header_frame,
    peak_growth,
    psi_params,
    running_stage,
    running_victims,
    stalled,
)

pytestmark = pytest.mark.slow
MIB = 1 << 20
# What a node may grow by while refusing or receiving a forged push: gRPC's own buffers, a chunk or two.
ALLOWED_GROWTH = 64 * MIB


@pytest.fixture(scope="module")
def victims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Victims]:
    with running_victims(tmp_path_factory.mktemp("attacked")) as world:
        yield world


def _job() -> str:
    return f"job-20250101-000000-{uuid.uuid4().hex[:6]}"


def test_forged_push_headers_allocate_only_what_arrives(victims: Victims) -> None:
    platform = victims.platform
    job = _job()
    peers = {PLATFORM.party: platform.address, COURT.party: victims.silent[COURT]}
    with running_stage(victims, platform, job, peers, psi_params(PLATFORM.party, [COURT.party])):
        session = f"{job}.psi"
        cases = {
            "bank, no such job": (BANK, [header_frame(f"{_job()}.psi", 1 << 30)], grpc.StatusCode.PERMISSION_DENIED),
            "peer, no such job": (COURT, [header_frame(f"{_job()}.psi", 1 << 30)], grpc.StatusCode.NOT_FOUND),
            "party, over the job's ceiling": (COURT, [header_frame(session, 1 << 30)],
                                              grpc.StatusCode.INVALID_ARGUMENT),
            # Within the ceiling, one chunk sent, then nothing: the call stays open, holding what arrived only.
            "party, 400 MiB announced, 1 MiB sent": (COURT, [header_frame(session, 400 * MIB), chunk_frame(MIB)],
                                                     None),
        }
        seen = {}
        for name, (caller, frames, _) in cases.items():
            channel = victims.channel(platform, caller)
            try:
                baseline = platform.rss()
                with stalled(channel, PUSH, frames) as (call,):
                    growth = peak_growth(platform, 1.5, baseline)
                    code, _ = call.outcome(timeout=0.1)
                seen[name] = (code, growth < ALLOWED_GROWTH, growth // MIB)
            finally:
                channel.close()
    assert {n: s[:2] for n, s in seen.items()} == {n: (c[2], True) for n, c in cases.items()}, seen


def test_bank_and_operator_certificates_reach_only_their_services(victims: Victims) -> None:
    """A bank is not admitted to the platform's gRPC server at all (banks use the HTTP API); an operator reaches
    the consent registry, never a mailbox or a node's task service."""
    platform = victims.platform
    refused = {}
    channel = victims.channel(platform, BANK)
    try:
        verification_pb2_grpc.ConsentRegistryStub(channel).RegistryKeys(verification_pb2.RegistryKeysRequest(),
                                                                        timeout=10)
        refused["bank ConsentRegistry.RegistryKeys"] = grpc.StatusCode.OK
    except grpc.RpcError as err:
        refused["bank ConsentRegistry.RegistryKeys"] = err.code()
    finally:
        channel.close()
    channel = victims.channel(platform, ADMIN)
    try:
        with stalled(channel, PUSH, [header_frame(f"{_job()}.psi", 10)]) as (push,):
            refused["admin Mailbox.Push"] = push.outcome(timeout=10)[0]
        try:
            control_pb2_grpc.NodeStub(channel).Describe(control_pb2.DescribeRequest(), timeout=10)
            refused["admin Node.Describe"] = grpc.StatusCode.OK
        except grpc.RpcError as err:
            refused["admin Node.Describe"] = err.code()
        # The consent registry is the service meant for operators.
        keys = verification_pb2_grpc.ConsentRegistryStub(channel).RegistryKeys(
            verification_pb2.RegistryKeysRequest(), timeout=10)
        assert keys.ByteSize() > 0
    finally:
        channel.close()
    assert refused == dict.fromkeys(refused, grpc.StatusCode.PERMISSION_DENIED)
    assert len(refused) == 3


def _scoring_answers_promptly(victims: Victims) -> float:
    """Seconds the source takes to answer the platform's scoring call (an unknown model: NOT_FOUND)."""
    channel = victims.channel(victims.source, PLATFORM)
    started = time.monotonic()
    try:
        scoring_pb2_grpc.PartyScoringStub(channel).LeafMasks(
            scoring_pb2.MaskRequest(model_id="sb-none", ids=["x"]), timeout=10)
        raise AssertionError("an unknown model was scored")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, (err.code(), err.details())
    finally:
        channel.close()
    return time.monotonic() - started


def _ends(calls, within: float) -> list[grpc.StatusCode | None]:
    deadline = time.monotonic() + within
    return [call.outcome(timeout=max(0.0, deadline - time.monotonic()))[0] for call in calls]


def test_stalled_uploads_neither_starve_scoring_nor_stay_open(victims: Victims) -> None:
    source = victims.source
    job = _job()
    peers = {PLATFORM.party: victims.silent[PLATFORM], TAX.party: source.address, COURT.party: victims.silent[COURT]}
    with running_stage(victims, source, job, peers, psi_params(PLATFORM.party, [TAX.party, COURT.party])):
        channel = victims.channel(source, COURT)
        try:
            never_finished = [header_frame(f"{job}.psi", 8 * MIB), chunk_frame(64 << 10)]
            with stalled(channel, PUSH, never_finished, 16) as uploads, stalled(channel, PUSH, [], 6) as silent:
                time.sleep(0.5)  # let every stream reach the node
                assert _scoring_answers_promptly(victims) < 2.0
                ended = _ends(uploads + silent, within=TEST_LIMITS["push_idle_s"] + 6.0)
        finally:
            channel.close()
    assert None not in ended, f"streams still open after the idle deadline: {ended}"
    assert set(ended) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}, ended
    assert ended.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 22 - 4, "more than 4 concurrent pushes from one peer"


def test_stalled_requests_neither_starve_scoring_nor_stay_open(victims: Victims) -> None:
    channel = victims.channel(victims.source, COURT)
    try:
        # A unary method called with a request that never comes: the server waits for it on a worker thread.
        with stalled(channel, "/grpc.health.v1.Health/Check", [], 20) as requests:
            time.sleep(0.5)
            assert _scoring_answers_promptly(victims) < 2.0
            ended = _ends(requests, within=TEST_LIMITS["request_s"] + 6.0)
    finally:
        channel.close()
    assert None not in ended, f"calls still waiting for their request after the deadline: {ended}"
    assert set(ended) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}, ended


def test_a_job_id_never_names_a_folder_outside_the_state_dir(victims: Victims) -> None:
    source = victims.source
    outside = victims.root / f"escaped-{uuid.uuid4().hex[:8]}"
    job_ids = [os.path.relpath(outside, source.state_dir / "jobs"), str(outside), "job-1/../../../escaped"]
    peers = [control_pb2.Peer(party=PLATFORM.party, address=victims.silent[PLATFORM]),
             control_pb2.Peer(party=TAX.party, address=source.address)]
    events = {}
    for job_id in job_ids:
        request = control_pb2.TaskRequest(job_id=job_id, stage="psi", peers=peers,
                                          params_json=psi_params(PLATFORM.party, [TAX.party]))
        event = first_event(victims, source, request)
        events[job_id] = event.error.code if event.WhichOneof("kind") == "error" else event.WhichOneof("kind")
    created = [p for p in (outside, source.state_dir / "escaped", source.state_dir.parent / "escaped") if p.exists()]
    assert not created, f"folders created outside {source.state_dir / 'jobs'}: {created}"
    assert events == dict.fromkeys(job_ids, "BAD_JOB_ID")
    channel = victims.channel(source, COURT)
    try:
        with stalled(channel, PUSH, [header_frame("../../escaped.psi", 10)]) as (push,):
            assert push.outcome(timeout=10)[0] == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        channel.close()


def test_attacked_nodes_are_still_alive(victims: Victims) -> None:
    for victim in (victims.source, victims.platform):
        assert victim.member.process.poll() is None, Path(victim.member.log_path).read_text()[-2000:]
