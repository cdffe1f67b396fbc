"""Wiring of verification and witnessing into a source node process (`attach`, called before the server starts).

Settings, all optional, in the node's `[verification]` section:
    platform = "host:port"          the platform's server (consent registry); without it nothing is answered
    advertise = "host:port"         address announced to the platform (default: the node's [node] advertise,
                                    else the server's own)
    protected_as = "TRADE_SECRET"   consent sensitivity of columns the schema declares PROTECTED
    period = "2025"                 period the table's figures cover (checked against the data range)
    checks_per_field = 8            K: predicate/match answers per field per authorisation
    announce_interval_s = 60        re-announce (and refresh the registry keys) this often
State lives in `<state_dir>/verification/`: node.db (budgets, nonces, the node's own use log), the answer
and witness keys, witness.json (the last checkpoint this node cosigned).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from consent.audit import CosignatureSigner, JsonFileWitnessStore, LocalUseLog, Witness, open_engine
from consent.authorisation import AuthorisationGate, GatePolicy, VerificationResponder
from federation.config import NodeConfig
from federation.key_binding import BindingVerifier
from federation.pki import NodeTls
from federation.proto import verification_pb2_grpc
from federation.server import NodeServer
from source_node.governance import SourceGovernance
from source_node.verification.answering import BindingDirectory, LeafCapture, VerificationServicer
from source_node.verification.catalogue import catalogue_from_settings, table_lookup
from source_node.verification.keys import NodeKeys
from source_node.verification.registry_link import (
    RegistryLink,
    RegistryUnreachable,
    RemoteEnterpriseKeys,
    RemoteStatusSource,
)
from source_node.verification.witnessing import WitnessServicer
from tables import LoadedTable

log = logging.getLogger("xyd.source.verification")


def utc_now() -> datetime:
    return datetime.now(UTC)


class VerificationNode:
    """What `attach` set up; `close()` stops the registry connector (the servers stop with the process)."""

    def __init__(self, state: Path, keys: NodeKeys, local_log: LocalUseLog, answering: VerificationServicer,
                 witnessing: WitnessServicer, link: RegistryLink | None = None) -> None:
        self.state = state
        self.keys = keys
        self.local_log = local_log
        self.answering = answering
        self.witnessing = witnessing
        self.link = link
        self.connected = threading.Event()
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_in_background(self, target: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=target, name="xyd-registry-link", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.link is not None:
            self.link.close()


def attach(
    server: NodeServer,
    *,
    config: NodeConfig,
    table: LoadedTable,
    tls: NodeTls,
    clock: Callable[[], datetime] = utc_now,
    governance: SourceGovernance | None = None,
) -> VerificationNode:
    """Add the `Verification` and `Witness` services to `server` (before it starts) and connect to the
    platform's consent registry in the background once the server is up."""
    settings = config.section("verification")
    state = config.state_dir / "verification"
    state.mkdir(parents=True, exist_ok=True)
    engine = open_engine(f"sqlite:///{state / 'node.db'}")
    local_log = LocalUseLog(engine)
    local_log.create_schema()
    keys = NodeKeys.load_or_create(state)
    bindings = BindingVerifier(tls.ca_pem, tls.crl_path)
    own_binding = keys.binding(tls, now=clock())
    capture = LeafCapture(local_log)
    directory = BindingDirectory(bindings, clock=clock)
    answering = VerificationServicer(own_binding=lambda: own_binding, directory=directory, capture=capture,
                                     clock=clock, governance=governance)
    witnessing = WitnessServicer(clock=clock)
    # Only the platform relays verification requests and publishes checkpoints to witness.
    server.add_servicer(verification_pb2_grpc.add_VerificationServicer_to_server, answering, roles={"platform"})
    server.add_servicer(verification_pb2_grpc.add_WitnessServicer_to_server, witnessing, roles={"platform"})
    platform = settings.get("platform")
    if not platform:
        log.warning("no [verification] platform address: verification requests cannot be answered")
        return VerificationNode(state, keys, local_log, answering, witnessing)
    link = RegistryLink(str(platform), tls, bindings=bindings)
    node = VerificationNode(state, keys, local_log, answering, witnessing, link)
    catalogue = catalogue_from_settings(table.schema, settings)
    policy = GatePolicy(checks_per_field=int(settings.get("checks_per_field", GatePolicy.checks_per_field)))
    interval = float(settings.get("announce_interval_s", 60))

    def connect() -> None:
        registry = link.registry_keys(now=clock())
        gate = AuthorisationGate(
            node_id=tls.identity.party,
            engine=engine,
            catalogue=catalogue,
            enterprise_keys=RemoteEnterpriseKeys(link, registry.status_key, clock=clock),
            institutions=directory,
            status_source=RemoteStatusSource(link, registry.status_key),
            registry_key=registry.status_key,
            audit=capture,
            policy=policy,
        )
        gate.create_schema()
        answering.ready(VerificationResponder(gate, lookup=table_lookup(table), signing_key=keys.answer_signing))
        witnessing.ready(Witness(CosignatureSigner(tls.identity.party, keys.witness), [registry.log],
                                 JsonFileWitnessStore(state / "witness.json")))

    def run() -> None:
        delay = 0.1
        while not node.stop.is_set():
            try:
                address = str(settings.get("advertise") or "") or server.advertised_address
                server.port  # noqa: B018 - raises RuntimeError until the server has started
            except RuntimeError:
                node.stop.wait(0.05)
                continue
            try:
                if not answering.is_ready:
                    connect()
                link.announce(address, own_binding, catalogue)
            except RegistryUnreachable as exc:
                log.info("consent registry not reachable yet: %s", exc)
                node.stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception:  # a bad binding or key: keep the node up, say why, try again later
                log.exception("cannot connect to the consent registry")
                node.stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not node.connected.is_set():
                log.info("connected to the consent registry", extra={"platform": platform, "as": address})
                node.connected.set()
            delay = 0.1
            node.stop.wait(interval)

    node.run_in_background(run)
    return node
