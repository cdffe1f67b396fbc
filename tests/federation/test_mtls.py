"""Mutual TLS admission on loopback: who is refused, with which status, and where identity comes from."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.call_limits import CallLimits
from federation.channel import Mailbox, PeerUnavailable
from federation.grpc_channel import GrpcChannel, PeerRefused, open_secure_channel
from federation.peer_auth import peer_identity
from federation.pki import CertificateAuthority, Identity, NodeTls, utcnow
from federation.proto import control_pb2, control_pb2_grpc, transport_pb2
from federation.retry import RetryPolicy
from federation.server import NodeServer

TAX = Identity("source", "tax")
PLATFORM = Identity("platform", "main")
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.05, max_backoff=0.1)


class EchoIdentity(control_pb2_grpc.NodeServicer):
    """Answers with the caller's identity as the server sees it (unary and response-streaming)."""

    def Describe(  # noqa: N802
        self, request: control_pb2.DescribeRequest, context: grpc.ServicerContext
    ) -> control_pb2.NodeDescription:
        return control_pb2.NodeDescription(party=peer_identity(context).party)

    def RunTask(  # noqa: N802
        self, request: control_pb2.TaskRequest, context: grpc.ServicerContext
    ) -> Iterator[control_pb2.TaskEvent]:
        for fraction in (0.5, 1.0):
            yield control_pb2.TaskEvent(
                progress=control_pb2.Progress(message=peer_identity(context).party, fraction=fraction)
            )


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("pki"))


def _serve(tls: NodeTls, **kwargs: object) -> NodeServer:
    server = NodeServer(tls, **kwargs)  # type: ignore[arg-type]
    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, EchoIdentity())
    server.start()
    return server


@pytest.fixture(scope="module")
def tax_server(ca: CertificateAuthority) -> Iterator[NodeServer]:
    server = _serve(ca.issue(TAX))
    yield server
    server.stop(0)


def _describe(address: str, tls: NodeTls, expected: Identity = TAX) -> str:
    channel = open_secure_channel(address, tls, expected)
    try:
        return control_pb2_grpc.NodeStub(channel).Describe(control_pb2.DescribeRequest(), timeout=5).party
    finally:
        channel.close()


def _refusal(address: str, credentials: grpc.ChannelCredentials, expected: Identity = TAX) -> grpc.StatusCode:
    channel = grpc.secure_channel(
        address, credentials, options=[("grpc.ssl_target_name_override", expected.dns_name)]
    )
    try:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError as err:
        return err.code()
    finally:
        channel.close()
    raise AssertionError("the call was admitted")


def _client_credentials(tls: NodeTls) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(tls.ca_pem, tls.key_pem, tls.cert_pem)


def test_identity_comes_from_the_client_certificate(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    assert _describe(tax_server.address, ca.issue(PLATFORM)) == "platform/main"
    assert _describe(tax_server.address, ca.issue(Identity("bank", "icbc_sz"))) == "bank/icbc_sz"


def test_pushed_messages_are_filed_under_the_certificate_party(
    ca: CertificateAuthority, tax_server: NodeServer
) -> None:
    court = ca.issue(Identity("source", "court"))
    tax_server.mailboxes.open("j-id", {"source/court"})
    with GrpcChannel("source/court", "j-id", {"source/tax": tax_server.address}, court, Mailbox()) as channel:
        channel.send("source/tax", "t", transport_pb2.Frame(chunk=b"x"))
    filed = tax_server.mailboxes.for_job("j-id").take("source/court", "t", timeout=1)
    assert filed == transport_pb2.Frame(chunk=b"x").SerializeToString()


def test_health_service_reports_serving(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    channel = open_secure_channel(tax_server.address, ca.issue(PLATFORM), TAX)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channel.close()


def test_client_without_certificate_is_refused(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    code = _refusal(tax_server.address, grpc.ssl_channel_credentials(ca.ca_pem))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_client_from_another_ca_is_refused(tax_server: NodeServer, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "stranger", common_name="stranger CA").issue(PLATFORM)
    # It trusts our CA, so only the server's check of its certificate can refuse it.
    tls = dataclasses.replace(stranger, ca_pem=tax_server.tls.ca_pem)
    assert _refusal(tax_server.address, _client_credentials(tls)) == grpc.StatusCode.UNAVAILABLE
    with (
        pytest.raises(PeerUnavailable) as info,
        GrpcChannel(
            "platform/main", "j", {"source/tax": tax_server.address}, tls, Mailbox(), retry=FAST
        ) as channel,
    ):
        channel.send("source/tax", "t", transport_pb2.Frame())
    assert not isinstance(info.value, PeerRefused)


def test_server_from_another_ca_is_refused_by_the_client(ca: CertificateAuthority, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "stranger", common_name="stranger CA")
    server = _serve(stranger.issue(TAX))
    try:
        assert (
            _refusal(server.address, _client_credentials(ca.issue(PLATFORM))) == grpc.StatusCode.UNAVAILABLE
        )
    finally:
        server.stop(0)


def test_client_pins_the_server_identity(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    client = ca.issue(PLATFORM)
    court = Identity("source", "court")
    assert (
        _refusal(tax_server.address, _client_credentials(client), expected=court)
        == grpc.StatusCode.UNAVAILABLE
    )
    with (
        pytest.raises(PeerUnavailable, match="source/court"),
        GrpcChannel(
            "platform/main", "j", {"source/court": tax_server.address}, client, Mailbox(), retry=FAST
        ) as channel,
    ):
        channel.send("source/court", "t", transport_pb2.Frame())


def test_expired_client_certificate_is_refused_by_tls(
    ca: CertificateAuthority, tax_server: NodeServer
) -> None:
    expired = ca.issue(Identity("source", "customs"), now=utcnow() - dt.timedelta(days=400), days=30)
    assert _refusal(tax_server.address, _client_credentials(expired)) == grpc.StatusCode.UNAVAILABLE


def test_certificate_expired_by_the_server_clock_is_unauthenticated(ca: CertificateAuthority) -> None:
    client = ca.issue(PLATFORM, days=1)
    server_tls = dataclasses.replace(ca.issue(TAX), crl_path=None)
    server = _serve(server_tls, clock=lambda: utcnow() + dt.timedelta(days=2))
    try:
        assert _refusal(server.address, _client_credentials(client)) == grpc.StatusCode.UNAUTHENTICATED
        with (
            pytest.raises(PeerRefused, match="expired") as info,
            GrpcChannel(
                "platform/main", "j", {"source/tax": server.address}, client, Mailbox(), retry=FAST
            ) as channel,
        ):
            channel.send("source/tax", "t", transport_pb2.Frame())
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop(0)


def test_revoked_client_is_refused_even_on_an_open_connection(
    ca: CertificateAuthority, tax_server: NodeServer
) -> None:
    housing = Identity("source", "housing_fund")
    client = ca.issue(housing)
    tax_server.mailboxes.open("j-rev", {housing.party})
    with GrpcChannel(
        housing.party, "j-rev", {"source/tax": tax_server.address}, client, Mailbox()
    ) as channel:
        channel.send("source/tax", "before", transport_pb2.Frame())
        time.sleep(0.01)  # a distinct CRL mtime
        ca.revoke_identity(housing)
        with pytest.raises(PeerRefused, match="revoked") as info:
            channel.send("source/tax", "after", transport_pb2.Frame())
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert _refusal(tax_server.address, _client_credentials(client)) == grpc.StatusCode.UNAUTHENTICATED
    assert _run_task(tax_server.address, client) == grpc.StatusCode.UNAUTHENTICATED


def _run_task(address: str, tls: NodeTls) -> list[str] | grpc.StatusCode:
    channel = open_secure_channel(address, tls, TAX)
    try:
        events = control_pb2_grpc.NodeStub(channel).RunTask(control_pb2.TaskRequest(job_id="j"), timeout=5)
        return [event.progress.message for event in events]
    except grpc.RpcError as err:
        return err.code()
    finally:
        channel.close()


def test_role_not_allowed_is_permission_denied(ca: CertificateAuthority) -> None:
    server = _serve(ca.issue(TAX), allowed_roles={"platform", "coordinator"})
    try:
        assert _describe(server.address, ca.issue(PLATFORM)) == "platform/main"
        assert _run_task(server.address, ca.issue(PLATFORM)) == ["platform/main", "platform/main"]
        bank = ca.issue(Identity("bank", "icbc"))
        assert _refusal(server.address, _client_credentials(bank)) == grpc.StatusCode.PERMISSION_DENIED
        assert _run_task(server.address, bank) == grpc.StatusCode.PERMISSION_DENIED
        with (
            pytest.raises(PeerRefused, match="role 'bank'") as info,
            GrpcChannel(
                "bank/icbc", "j", {"source/tax": server.address}, bank, Mailbox(), retry=FAST
            ) as channel,
        ):
            channel.send("source/tax", "t", transport_pb2.Frame())
        assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        server.stop(0)


def test_unusable_crl_fails_closed_and_recovers_when_fixed(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "pki")
    server = _serve(ca.issue(TAX))
    client = ca.issue(PLATFORM)
    good = ca.crl_path.read_bytes()
    try:
        assert _describe(server.address, client) == "platform/main"
        ca.crl_path.write_bytes(good.replace(b"\n-----END", b"AA\n-----END"))
        assert _refusal(server.address, _client_credentials(client)) == grpc.StatusCode.UNAUTHENTICATED
        time.sleep(0.01)
        ca.crl_path.write_bytes(good)
        assert _describe(server.address, client) == "platform/main"
    finally:
        server.stop(0)


def test_unknown_allowed_role_is_a_configuration_error(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        NodeServer(ca.issue(TAX), allowed_roles={"robot"})


def test_a_limited_role_reaches_its_methods_only(ca: CertificateAuthority) -> None:
    """A source node admits an officer's admin certificate to one method: every other one, the mailbox
    included, is refused; the fully admitted roles are unaffected, and an unknown limited role is refused."""
    server = _serve(ca.issue(TAX), allowed_roles={"platform"},
                    limited_roles={"admin": {"/xyd.control.Node/Describe"}})
    try:
        officer = ca.issue(Identity("admin", "compliance"))
        assert _describe(server.address, officer) == "admin/compliance"
        assert _run_task(server.address, officer) == grpc.StatusCode.PERMISSION_DENIED
        with (
            pytest.raises(PeerRefused) as info,
            GrpcChannel("admin/compliance", "j", {"source/tax": server.address}, officer, Mailbox(),
                        retry=FAST) as channel,
        ):
            channel.send("source/tax", "t", transport_pb2.Frame())
        assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert _run_task(server.address, ca.issue(PLATFORM)) == ["platform/main", "platform/main"]
        assert _run_task(server.address, ca.issue(Identity("bank", "icbc"))) == grpc.StatusCode.PERMISSION_DENIED
    finally:
        server.stop(0)
    with pytest.raises(ValueError, match="unknown roles"):
        NodeServer(ca.issue(TAX), limited_roles={"robot": {"/x/y"}})
def test_each_service_serves_only_its_roles(ca: CertificateAuthority) -> None:
    """Banks and operators reach the same port as federation peers, but only the services meant for them."""
    server = NodeServer(ca.issue(TAX), allowed_roles={"coordinator", "platform", "source", "bank", "admin"})
    server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, EchoIdentity(), roles={"coordinator"})
    server.start()
    try:
        coordinator, bank = ca.issue(Identity("coordinator", "main")), ca.issue(Identity("bank", "icbc"))
        assert _describe(server.address, coordinator) == "coordinator/main"
        assert _run_task(server.address, bank) == grpc.StatusCode.PERMISSION_DENIED
        assert _run_task(server.address, ca.issue(PLATFORM)) == grpc.StatusCode.PERMISSION_DENIED
        server.mailboxes.open("j-roles", {"bank/icbc", "admin/op"})  # even named as parties, they may not push
        for caller in (bank, ca.issue(Identity("admin", "op"))):
            with (
                pytest.raises(PeerRefused, match="may not call this service") as info,
                GrpcChannel(caller.identity.party, "j-roles", {"source/tax": server.address}, caller, Mailbox(),
                            retry=FAST) as channel,
            ):
                channel.send("source/tax", "t", transport_pb2.Frame())
            assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
        health = open_secure_channel(server.address, bank, TAX)  # health: every role the server admits
        try:
            reply = health_pb2_grpc.HealthStub(health).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            health.close()
    finally:
        server.stop(0)


def test_health_watch_is_not_served(ca: CertificateAuthority, tax_server: NodeServer) -> None:
    """A Watch stream never ends by design, so each one would hold a worker thread for as long as its client likes."""
    channel = open_secure_channel(tax_server.address, ca.issue(PLATFORM), TAX)
    try:
        with pytest.raises(grpc.RpcError) as info:
            next(health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=5))
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        channel.close()


def test_add_servicer_refuses_unknown_roles(ca: CertificateAuthority) -> None:
    server = NodeServer(ca.issue(TAX))
    with pytest.raises(ValueError, match="unknown roles"):
        server.add_servicer(control_pb2_grpc.add_NodeServicer_to_server, EchoIdentity(), roles={"robot"})


def test_calls_give_their_slots_back_however_they_end(ca: CertificateAuthority) -> None:
    server = _serve(ca.issue(TAX), limits=CallLimits(calls_per_peer=2))
    channel = open_secure_channel(server.address, ca.issue(PLATFORM), TAX)
    try:
        stub = control_pb2_grpc.NodeStub(channel)
        for _ in range(10):
            stub.RunTask(control_pb2.TaskRequest(job_id="j"), timeout=5).cancel()  # before any response is read
            assert [e.progress.message for e in stub.RunTask(control_pb2.TaskRequest(job_id="j"), timeout=5)] == \
                ["platform/main"] * 2
            assert stub.Describe(control_pb2.DescribeRequest(), timeout=5).party == "platform/main"
    finally:
        channel.close()
        server.stop(0)
