"""The source node's scoring service over mTLS: only the platform may ask, within the batch limit, for a
published part that passes its integrity check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from federation.grpc_channel import open_secure_channel
from federation.pki import CertificateAuthority, Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc
from federation.server import NodeServer
from sandbox.synthdata import generate
from source_node.scoring import MAX_BATCH, SCORECARD_PART, PartyScoringServicer
from tables import load_table

TAX = Identity("source", "tax")
PLATFORM = Identity("platform", "main")
COURT = Identity("source", "court")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CertificateAuthority, str, Path]]:
    folder = tmp_path_factory.mktemp("scoring")
    manifest = generate(60, 4, folder / "data")
    unit = next(u for u in manifest.units if u.name == "tax")
    table = load_table(folder / "data" / unit.schema, folder / "data" / unit.table)
    models = folder / "models"
    (models / "sb-corrupt").mkdir(parents=True)
    (models / "sb-corrupt" / "secureboost-passive.bin").write_bytes(b"not a model part")
    (models / "sc-corrupt").mkdir()
    (models / "sc-corrupt" / SCORECARD_PART).write_bytes(b"not a scorecard part")
    ca = CertificateAuthority.create(folder / "pki")
    server = NodeServer(ca.issue(TAX))
    server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server, PartyScoringServicer(table, models))
    server.start()
    try:
        yield ca, server.address, models
    finally:
        server.stop(0)


def _refusal(world, caller: Identity, call) -> grpc.StatusCode:
    ca, address, _ = world
    channel = open_secure_channel(address, ca.issue(caller), TAX)
    try:
        call(scoring_pb2_grpc.PartyScoringStub(channel))
    except grpc.RpcError as error:
        return error.code()
    finally:
        channel.close()
    raise AssertionError("the call was not refused")


def _masks(model_id: str, n: int = 1):
    return lambda stub: stub.LeafMasks(scoring_pb2.MaskRequest(model_id=model_id, ids=["x"] * n), timeout=10)


def _points(model_id: str, n: int = 1):
    return lambda stub: stub.Points(scoring_pb2.PointsRequest(model_id=model_id, ids=["x"] * n), timeout=10)


def test_only_the_platform_may_ask_for_scoring_shares(world) -> None:
    assert _refusal(world, COURT, _masks("sb-corrupt")) == grpc.StatusCode.PERMISSION_DENIED
    assert _refusal(world, COURT, _points("sc-corrupt")) == grpc.StatusCode.PERMISSION_DENIED


def test_oversized_unknown_and_corrupt_requests_are_refused_with_their_own_status(world) -> None:
    assert _refusal(world, PLATFORM, _masks("sb-corrupt", MAX_BATCH + 1)) == grpc.StatusCode.INVALID_ARGUMENT
    assert _refusal(world, PLATFORM, _points("sc-corrupt", MAX_BATCH + 1)) == grpc.StatusCode.INVALID_ARGUMENT
    assert _refusal(world, PLATFORM, _masks("sb-none")) == grpc.StatusCode.NOT_FOUND
    assert _refusal(world, PLATFORM, _points("sc-none")) == grpc.StatusCode.NOT_FOUND
    assert _refusal(world, PLATFORM, _masks("../sb-corrupt")) == grpc.StatusCode.NOT_FOUND
    assert _refusal(world, PLATFORM, _masks("sb-corrupt")) == grpc.StatusCode.DATA_LOSS
    assert _refusal(world, PLATFORM, _points("sc-corrupt")) == grpc.StatusCode.DATA_LOSS
