"""Whether a registered node answers now: a health check with a short deadline over the coordinator's mTLS
channel to it. Answers update the registry's `last_seen`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from coordinator.registry import NodeRegistry, UnknownParty
from federation.grpc_channel import describe_failure

PROBE_TIMEOUT_S = 2.0

OpenChannel = Callable[[str, str], grpc.Channel]


def probe(channel: grpc.Channel, *, timeout: float = PROBE_TIMEOUT_S) -> str:
    """'' if the node behind `channel` reports SERVING within `timeout`, else why not (operator's words)."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        return describe_failure(exc.code(), exc.details() or "")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"health {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return ""


class Liveness:
    """Probes registered parties at their current addresses and notes those that answer."""

    def __init__(self, registry: NodeRegistry, open_channel: OpenChannel, *, timeout: float = PROBE_TIMEOUT_S) -> None:
        self.registry, self.open_channel, self.timeout = registry, open_channel, timeout

    def check(self, party: str) -> str:
        """'' if `party` answers now; otherwise why not."""
        try:
            address = self.registry.address_of(party)
        except UnknownParty as exc:
            return str(exc)
        problem = probe(self.open_channel(address, party), timeout=self.timeout)
        if not problem:
            self.registry.seen(party)
        return problem

    def check_all(self, parties: Iterable[str]) -> dict[str, str]:
        """Every party's `check`, in parallel: {party: '' or the reason it does not answer}."""
        names = list(dict.fromkeys(parties))
        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
            return dict(zip(names, pool.map(self.check, names), strict=True))
