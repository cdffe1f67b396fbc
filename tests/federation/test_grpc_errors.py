"""The gRPC edge's error translator on a real mTLS server: catalogue errors become their status and public
text, anything else becomes INTERNAL, and no internal text reaches the caller."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from errors import AlreadyExists, IntegrityFailure, InvalidInput, NotFound, Refused, Unavailable, XydError
from federation.grpc_channel import open_secure_channel
from federation.grpc_errors import code_of
from federation.pki import CertificateAuthority, Identity
from federation.proto import control_pb2, control_pb2_grpc
from federation.server import NodeServer

TAX = Identity("source", "tax")
PLATFORM = Identity("platform", "main")
SECRET = "/var/lib/xyd/state/keys/secret.key row 42 value 3.1415"

RAISED: dict[str, BaseException] = {}


class Raising(control_pb2_grpc.NodeServicer):
    """Raises whatever the test put under the name the request carries (unary and streaming)."""

    def Describe(self, request, context):  # noqa: N802
        raise RAISED["unary"]

    def RunTask(self, request, context) -> Iterator[control_pb2.TaskEvent]:  # noqa: N802
        yield control_pb2.TaskEvent(progress=control_pb2.Progress(message="started"))
        raise RAISED["stream"]


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control_pb2_grpc.NodeStub]:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    server = NodeServer(ca.issue(TAX))
    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, Raising())
    server.start()
    channel = open_secure_channel(server.address, ca.issue(PLATFORM), TAX)
    yield control_pb2_grpc.NodeStub(channel)
    channel.close()
    server.stop()


@pytest.mark.parametrize(("error", "status", "public"), [
    (Refused("platform/main may not do this"), grpc.StatusCode.PERMISSION_DENIED,
     "REFUSED: platform/main may not do this"),
    (InvalidInput("batch too large"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT: batch too large"),
    (NotFound("no job j1"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND: no job j1"),
    (AlreadyExists("model m exists"), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS: model m exists"),
    (IntegrityFailure(SECRET), grpc.StatusCode.DATA_LOSS, "INTEGRITY: integrity check failed"),
    (Unavailable(SECRET, public="registry not connected"), grpc.StatusCode.UNAVAILABLE,
     "UNAVAILABLE: registry not connected"),
    (XydError(SECRET, code="STAGE_FAILED"), grpc.StatusCode.INTERNAL, "STAGE_FAILED: internal error"),
    (RuntimeError(SECRET), grpc.StatusCode.INTERNAL, "INTERNAL: internal error"),
    (KeyError(SECRET), grpc.StatusCode.INTERNAL, "INTERNAL: internal error"),
])
def test_a_raised_error_becomes_its_status_and_public_text(stub, error, status, public) -> None:
    RAISED["unary"] = RAISED["stream"] = error
    with pytest.raises(grpc.RpcError) as unary:
        stub.Describe(control_pb2.DescribeRequest(), timeout=10)
    with pytest.raises(grpc.RpcError) as streamed:
        list(stub.RunTask(control_pb2.TaskRequest(job_id="j1", stage="psi"), timeout=10))
    for caught in (unary.value, streamed.value):
        assert caught.code() == status
        assert caught.details() == public
        assert SECRET not in caught.details()
    assert code_of(unary.value.details()) == public.split(":")[0]
