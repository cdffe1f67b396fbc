"""The coordinator's checks on what callers send: job ids of the one strict pattern, node registrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from coordinator.events import JobEventFeed
from coordinator.jobs.runner import JobRunner
from coordinator.jobs.store import JobStore
from coordinator.registry import NodeRegistry
from coordinator.service import CoordinatorServicer
from federation.grpc_channel import open_secure_channel
from federation.job_ids import JOB_ID_PATTERN
from federation.pki import CertificateAuthority, Identity
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import NodeServer

COORDINATOR, ADMIN = Identity("coordinator", "main"), Identity("admin", "op")
JOB = '[job]\nname = "x"\nstages = ["psi"]\n[parties]\nactive = "platform/main"\npassive = ["source/tax"]\n'


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, CertificateAuthority]]:
    ca = CertificateAuthority.create(tmp_path / "pki")
    store = JobStore.sqlite(str(tmp_path / "coordinator.db"))
    registry, feed = NodeRegistry(store.engine), JobEventFeed()
    runner = JobRunner(store, registry, lambda address, party: None, feed.publish)
    server = NodeServer(ca.issue(COORDINATOR), allowed_roles={"platform", "source", "admin"})
    server.add_servicer(control_pb2_grpc.add_CoordinatorServicer_to_server,
                        CoordinatorServicer(store, registry, runner, feed), roles={"platform", "source", "admin"})
    server.start()
    try:
        yield server.address, ca
    finally:
        server.stop(0)
        store.engine.dispose()


@pytest.fixture
def stub(served) -> Iterator[control_pb2_grpc.CoordinatorStub]:
    address, ca = served
    channel = open_secure_channel(address, ca.issue(ADMIN), COORDINATOR)
    try:
        yield control_pb2_grpc.CoordinatorStub(channel)
    finally:
        channel.close()


def test_submitted_jobs_get_ids_of_the_pattern_and_malformed_ids_are_refused(stub) -> None:
    job_id = stub.SubmitJob(control_pb2.JobSpec(spec_toml=JOB), timeout=10).job_id
    assert JOB_ID_PATTERN.fullmatch(job_id)
    for bad in ("../../etc", "job-1/x", "x" * 65):
        for call in (stub.GetJob, lambda ref, timeout: next(stub.WatchJob(ref, timeout=timeout))):
            with pytest.raises(grpc.RpcError) as refused:
                call(control_pb2.JobRef(job_id=bad), timeout=10)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert bad not in (refused.value.details() or "")
    with pytest.raises(grpc.RpcError) as unknown:
        stub.GetJob(control_pb2.JobRef(job_id="job-19990101-000000-000000"), timeout=10)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_node_registers_a_dialable_address_and_a_bounded_description(served) -> None:
    address, ca = served
    channel = open_secure_channel(address, ca.issue(Identity("source", "tax")), COORDINATOR)
    register = control_pb2_grpc.CoordinatorStub(channel).Register
    try:
        for good in ("127.0.0.1:5001", "tax.example.org:443", "[::1]:5001"):
            assert register(control_pb2.RegisterRequest(address=good), timeout=10).party == "source/tax"
        for bad in ("", "127.0.0.1", "host:0", "host:70000", "a b:1", "http://x:1/", "x" * 300 + ":1"):
            with pytest.raises(grpc.RpcError) as refused:
                register(control_pb2.RegisterRequest(address=bad), timeout=10)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        huge = control_pb2.NodeDescription(quality={"k": "v" * (1 << 20)})
        with pytest.raises(grpc.RpcError) as refused:
            register(control_pb2.RegisterRequest(address="127.0.0.1:5001", description=huge), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        channel.close()
