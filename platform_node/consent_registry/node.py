"""Wiring of the consent registry into the platform's node process (`attach`, before the server starts).

Settings, all optional, in the platform's `[consent]` section:
    db = "sqlite:///..."            the registry database (default: <state_dir>/consent/registry.db)
    checkpoint_interval_s = 10      publish a cosigned checkpoint this often when the log grew
    quorum = 2                      witness cosignatures required (default: a majority of announced nodes)
    relay_timeout_s = 5             deadline of one relayed request at the source node
Keys live in `<state_dir>/consent/keys/` (created on first start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from federation.config import NodeConfig
from federation.key_binding import BindingVerifier, log_origin
from federation.pki import NodeTls
from federation.proto import verification_pb2_grpc
from federation.server import NodeServer
from platform_node.consent_registry.governance_intake import GovernanceIntake
from platform_node.consent_registry.registry import ConsentRegistry
from platform_node.consent_registry.relay import SourceChannels
from platform_node.consent_registry.servicer import ConsentRegistryServicer
from platform_node.consent_registry.witnesses import CheckpointPublishing
from platform_node.usage_reporting import AnswerCounter


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConsentRegistryNode:
    """The registry with its channels to source nodes and its checkpoint publishing (started by `attach`);
    `close()` stops publishing and closes the channels."""

    def __init__(self, registry: ConsentRegistry, channels: SourceChannels, publishing: CheckpointPublishing,
                 *, tls: NodeTls, clock: Callable[[], datetime], relay_timeout: float,
                 usage: AnswerCounter | None = None) -> None:
        self.registry = registry
        self.channels = channels
        self.publishing = publishing
        self.tls = tls
        self.clock = clock
        self.relay_timeout = relay_timeout
        self.usage = usage  # the answers each source gave, counted for the governance usage reports
        self.bindings = BindingVerifier(tls.ca_pem, tls.crl_path)

    def close(self) -> None:
        self.publishing.stop()
        self.channels.close()
        self.registry.engine.dispose()


def prepare(
    *,
    config: NodeConfig,
    tls: NodeTls,
    registry: ConsentRegistry | None = None,
    clock: Callable[[], datetime] = utc_now,
    usage: AnswerCounter | None = None,
) -> ConsentRegistryNode:
    """Open the registry (or take `registry`, e.g. one over the HTTP API's database, so the platform keeps one
    engine and one log), its channels to source nodes and its checkpoint publishing, without starting anything:
    the HTTP API is built on the same objects before the gRPC server starts."""
    settings = config.section("consent")
    folder = config.state_dir / "consent"
    folder.mkdir(parents=True, exist_ok=True)
    if registry is None:
        url = str(settings.get("db") or f"sqlite:///{folder / 'registry.db'}")
        registry = ConsentRegistry.open(url, folder / "keys", identity=tls.identity)
    else:
        registry.create_schema()
    if registry.keyring.origin != log_origin(tls.identity):
        raise ValueError(f"the registry log's origin must be {log_origin(tls.identity)!r} (nodes and banks derive "
                         f"it from the platform's identity), not {registry.keyring.origin!r}")
    channels = SourceChannels(tls)
    quorum = settings.get("quorum")
    publishing = CheckpointPublishing(
        registry, channels, clock=clock, quorum=None if quorum is None else int(quorum),
        interval=float(settings.get("checkpoint_interval_s", 10)),
    )
    return ConsentRegistryNode(registry, channels, publishing, tls=tls, clock=clock,
                               relay_timeout=float(settings.get("relay_timeout_s", 5)), usage=usage)


def attach(
    server: NodeServer,
    *,
    config: NodeConfig,
    tls: NodeTls,
    registry: ConsentRegistry | None = None,
    prepared: ConsentRegistryNode | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ConsentRegistryNode:
    """Add the `ConsentRegistry` service to `server` (before it starts) and start checkpoint publishing, over
    `prepared` (see `prepare`) or a registry opened here.

    The server must admit the roles `source`, `admin` and `coordinator` (each method checks its own callers);
    banks use the HTTP API."""
    node = prepared or prepare(config=config, tls=tls, registry=registry, clock=clock)
    governance = GovernanceIntake(node.registry.log)
    governance.create_schema()
    servicer = ConsentRegistryServicer(
        node.registry, publishing=node.publishing, bindings=node.bindings,
        registry_keys=node.registry.keyring.binding(tls, now=node.clock()), clock=node.clock, governance=governance,
    )
    server.add_servicer(verification_pb2_grpc.add_ConsentRegistryServicer_to_server, servicer,
                        roles={"source", "admin", "coordinator"})
    node.publishing.start()
    return node
