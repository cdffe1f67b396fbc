"""Governance events to the platform's one audit log: the coordinator's outbox forwarded in order over mTLS gRPC
(`ConsentRegistry.AppendGovernance`), the receipts kept; and inclusion proofs of those leaves under a cosigned
checkpoint (`GovernanceProofs`) for the usage reports.

A desk change commits with its event in the outbox; the forwarder sends it at once (woken by the desk) or at
its next tick if the platform did not answer, so the coordinator never waits on the platform to record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import grpc

from consent.governance.outbox import ForwardReceipt, GovernanceOutbox
from coordinator.registry import NodeRegistry
from errors import Unavailable
from federation.grpc_channel import PeerChannels
from federation.pki import Identity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc

log = logging.getLogger("xyd.coordinator.governance_log")


class PlatformLog:
    """The platform's one log as the coordinator reaches it: the platform that registered, over mTLS."""

    def __init__(self, tls: NodeTls, registry: NodeRegistry, *, timeout: float = 20.0) -> None:
        self._channels = PeerChannels(tls)
        self._registry = registry
        self._timeout = timeout

    def _stub(self) -> verification_pb2_grpc.ConsentRegistryStub:
        platforms = sorted((n for n in self._registry.all() if n.party.startswith("platform/")),
                           key=lambda n: n.party)
        if not platforms:
            raise Unavailable("no platform has registered: governance events wait in the outbox")
        node = platforms[0]
        return verification_pb2_grpc.ConsentRegistryStub(self._channels.get(node.address, Identity.parse(node.party)))

    def _call(self, method: str, request):
        try:
            return getattr(self._stub(), method)(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise Unavailable(f"{method}: {exc.code().name}: {exc.details()}") from None

    def append(self, events: Sequence[tuple[int, bytes]]) -> list[ForwardReceipt]:
        reply = self._call("AppendGovernance", verification_pb2.GovernanceEvents(
            events=[verification_pb2.GovernanceEvent(seq=seq, leaf=leaf) for seq, leaf in events]))
        return [ForwardReceipt(r.seq, r.index, r.tree_size, bytes(r.root)) for r in reply.receipts]

    def proofs(self, indexes: Sequence[int]) -> verification_pb2.GovernanceProofReply:
        return self._call("GovernanceProofs", verification_pb2.GovernanceProofQuery(indexes=list(indexes)))

    def close(self) -> None:
        self._channels.close()


class GovernanceForwarder:
    """Sends the outbox's pending events to the platform in order, one batch at a time; keeps the receipts."""

    def __init__(self, outbox: GovernanceOutbox, append: Callable[[Sequence[tuple[int, bytes]]], list[ForwardReceipt]],
                 *, interval: float = 2.0, batch: int = 500) -> None:
        self._outbox = outbox
        self._append = append
        self._interval = interval
        self._batch = batch
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush(self) -> int:
        """Forward everything pending now; returns how many events were forwarded. Raises `Unavailable` if the
        platform did not take them (they stay pending, in order)."""
        done = 0
        with self._lock:
            while True:
                pending = self._outbox.pending(limit=self._batch)
                if not pending:
                    return done
                receipts = self._append([(e.seq, e.leaf) for e in pending])
                if sorted(r.seq for r in receipts) != [e.seq for e in pending]:
                    raise Unavailable("the platform's receipts do not match the events sent")
                self._outbox.forwarded(receipts)
                done += len(receipts)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self.flush()
                except Unavailable as exc:
                    log.warning("governance events not forwarded yet: %s", exc)
                except Exception:  # keep forwarding at the next tick; say why this one failed
                    log.exception("governance events not forwarded")

        self._thread = threading.Thread(target=run, name="xyd-governance-forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
