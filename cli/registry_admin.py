"""An operator's gRPC client of the platform's consent registry (admin certificate): bind enterprise keys,
submit signed authorisations, change their status, publish and fetch checkpoints.

The enterprise portal and the compliance desk act through these calls; the artefacts themselves are signed
by the enterprise, so the operator can submit but not forge them.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import CosignatureVerifier, Ed25519Verifier, LogTrust
from consent.authorisation import SignedTerms, Status, TransitionReason
from consent.authorisation.codec import canonical_json
from federation.grpc_channel import open_secure_channel
from federation.key_binding import BindingVerifier, KeyPurpose, log_origin
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc

PLATFORM = Identity("platform", "main")


def fetch_log_trust(stub: verification_pb2_grpc.ConsentRegistryStub, bindings: BindingVerifier, *,
                    platform: Identity, now: datetime, timeout: float = 10.0) -> LogTrust:
    """Ask the registry for its keys and its witnesses' keys; keep only what certificates vouch for."""
    reply = stub.RegistryKeys(verification_pb2.RegistryKeysRequest(), timeout=timeout)
    registry = bindings.verify(reply.registry_keys, expected=platform, now=now)
    log = Ed25519Verifier(log_origin(platform),
                          Ed25519PublicKey.from_public_bytes(registry.key(KeyPurpose.AUDIT_LOG)))
    witnesses = []
    for binding in reply.witnesses:
        bound = bindings.verify(binding, now=now)
        witnesses.append(CosignatureVerifier(
            bound.identity.party, Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.WITNESS))))
    # The client's own floor: a strict majority of the witnesses it was shown, whatever the registry says.
    return LogTrust(log, tuple(witnesses), max(reply.quorum, len(witnesses) // 2 + 1 if witnesses else 0))


class RegistryAdmin:
    """Operator calls on the registry; errors surface as `grpc.RpcError`."""

    def __init__(self, tls: NodeTls, platform_address: str, *, platform: Identity = PLATFORM,
                 timeout: float = 10.0) -> None:
        self.tls = tls
        self.platform = platform
        self._timeout = timeout
        self._channel = open_secure_channel(platform_address, tls, platform)
        self.stub = verification_pb2_grpc.ConsentRegistryStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RegistryAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bind_enterprise_key(self, credit_code: str, key: Ed25519PublicKey, *, valid_from: datetime) -> str:
        reply = self.stub.BindEnterpriseKey(verification_pb2.BindEnterpriseKeyRequest(
            credit_code=credit_code, public_key=key.public_bytes_raw(), valid_from=int(valid_from.timestamp())),
            timeout=self._timeout)
        return reply.key_id

    def submit(self, artefact: SignedTerms, *, actor: str, activate: bool = True) -> Status:
        reply = self.stub.SubmitAuthorisation(verification_pb2.SubmitAuthorisationRequest(
            artefact=canonical_json(artefact.to_json()), actor=actor, activate=activate), timeout=self._timeout)
        return Status(reply.status)

    def change_status(self, authorisation_id: str, target: Status, *, actor: str, reason: TransitionReason) -> Status:
        reply = self.stub.ChangeStatus(verification_pb2.ChangeStatusRequest(
            authorisation_id=authorisation_id, target=Status(target).value, actor=actor,
            reason=TransitionReason(reason).value), timeout=self._timeout)
        return Status(reply.status)

    def publish_checkpoint(self) -> verification_pb2.CheckpointReply:
        return self.stub.PublishCheckpoint(verification_pb2.CheckpointRequest(), timeout=self._timeout)

    def latest_checkpoint(self) -> verification_pb2.CheckpointReply:
        return self.stub.LatestCheckpoint(verification_pb2.CheckpointRequest(), timeout=self._timeout)

    def log_trust(self, *, now: datetime) -> LogTrust:
        return fetch_log_trust(self.stub, BindingVerifier(self.tls.ca_pem, self.tls.crl_path),
                               platform=self.platform, now=now, timeout=self._timeout)

    def witnesses(self) -> list[str]:
        """Parties of the source nodes that announced themselves (unchecked names, for readiness polls)."""
        reply = self.stub.RegistryKeys(verification_pb2.RegistryKeysRequest(), timeout=self._timeout)
        names = []
        for binding in reply.witnesses:
            statement = verification_pb2.KeyStatement()
            statement.ParseFromString(binding.statement)
            names.append(statement.identity)
        return names
