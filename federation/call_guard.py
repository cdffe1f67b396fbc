"""`CallGuard`: the one server interceptor of a `NodeServer`: admission, per-peer slots and stall deadlines.

Every handler is served as a request-streaming one, so the guard runs on the worker thread before a single
request byte is read: gRPC Python would otherwise wait for a unary request on the worker thread before any
interceptor code runs, and a peer that never sends its request would hold the thread with no check at all.
In order, a call:
1. is admitted (certificate, revocation, the server's and the service's roles: `PeerAdmission`);
2. takes a slot of its peer (`calls_per_peer`), and an upload slot (`pushes_per_peer`, `pushes_total`) if it
   streams its request, or a pending slot (`pending_per_peer`) while its unary request has not arrived;
3. waits for request messages under the stall watchdog: `request_s` for a unary request, `push_idle_s`
   between messages and `push_total_s` in all for a streamed one; past them the call is cancelled.
Refusals are RESOURCE_EXHAUSTED, which a `GrpcChannel` sender retries with backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from federation.call_limits import CallLimits, PeerSlots, SlotsFull, StallWatchdog, WatchedRequests
from federation.peer_auth import PeerAdmission

log = logging.getLogger("xyd.limits")

# Response streams that never end by design: each would hold a worker thread for as long as its client
# likes. Nothing in xyd watches health; `Check` answers the same question.
DISABLED_METHODS = frozenset({"/grpc.health.v1.Health/Watch"})
_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")


def service_of(method: str) -> str:
    """`pkg.Service` of a method path `/pkg.Service/Method` ("" if the path has another shape)."""
    parts = method.split("/")
    return parts[1] if len(parts) == 3 and not parts[0] else ""


class CallGuard(grpc.ServerInterceptor):
    """Admits, meters and watches every call of one server (see the module docstring for the order)."""

    def __init__(self, admission: PeerAdmission, limits: CallLimits, watchdog: StallWatchdog) -> None:
        self._admission = admission
        self._limits = limits
        self._watchdog = watchdog
        self._calls = PeerSlots(limits.calls_per_peer)
        self._pushes = PeerSlots(limits.pushes_per_peer, limits.pushes_total)
        self._pending = PeerSlots(limits.pending_per_peer)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in DISABLED_METHODS:
            return None  # UNIMPLEMENTED
        behaviour = next(getattr(handler, kind) for kind in _KINDS if getattr(handler, kind) is not None)
        guarded = self._guarded(behaviour, method, handler.request_streaming, handler.response_streaming)
        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(guarded, handler.request_deserializer,
                                                         handler.response_serializer)
        return grpc.stream_unary_rpc_method_handler(guarded, handler.request_deserializer,
                                                    handler.response_serializer)

    def _guarded(self, behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str,
                 streams_in: bool, streams_out: bool) -> Callable[[Iterator[Any], grpc.ServicerContext], Any]:
        service = service_of(method)

        def guarded(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            peer = self._admission.admit(context, service, method).party
            held = _Held(self._take(peer, streams_in, context), peer)
            # However the call ends (also cancelled before a response stream was ever read), its slots return.
            if not context.add_callback(held.release):
                held.release()
            try:
                if streams_in:
                    limits = self._limits
                    argument: Any = WatchedRequests(requests, self._watchdog, context.cancel,
                                                    idle=limits.push_idle_s, total=limits.push_total_s,
                                                    what=f"{method} from {peer}")
                else:
                    argument = self._one_request(requests, context, peer, method)
                result = behaviour(argument, context)
            except BaseException:
                held.release()
                raise
            if streams_out:  # the work happens as the response stream is read: keep the slots until it ends
                return _releasing(result, held)
            held.release()
            return result

        return guarded

    def _take(self, peer: str, streams_in: bool, context: grpc.ServicerContext) -> list[PeerSlots]:
        """The slots this call holds while it runs; abort with RESOURCE_EXHAUSTED when one is full."""
        taken: list[PeerSlots] = []
        for slots, what in ((self._calls, "calls"), (self._pushes, "uploads")):
            if slots is self._pushes and not streams_in:
                continue
            try:
                slots.acquire(peer)
            except SlotsFull:
                self._give_back(taken, peer)
                log.warning("call refused: slots full", extra={"peer": peer, "slots": what})
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"too many concurrent {what}: retry later")
            taken.append(slots)
        return taken

    @staticmethod
    def _give_back(slots: list[PeerSlots], peer: str) -> None:
        _Held(slots, peer).release()

    def _one_request(self, requests: Iterator[Any], context: grpc.ServicerContext, peer: str, method: str) -> Any:
        """The single request of a unary call, waited for at most `request_s` seconds under a pending slot."""
        try:
            self._pending.acquire(peer)
        except SlotsFull:
            log.warning("call refused: slots full", extra={"peer": peer, "slots": "pending"})
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many calls waiting for their request: retry later")
        key = object()
        seconds = self._limits.request_s
        self._watchdog.arm(key, self._watchdog.now() + seconds, context.cancel,
                           f"{method} from {peer}: request not received within {seconds:g} s")
        try:
            request = next(requests, None)
        finally:
            self._watchdog.disarm(key)
            self._pending.release(peer)
        if request is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a unary call needs exactly one request message")
        return request



class _Held:
    """The slots one call holds; `release` gives them back once, whoever calls it first."""

    def __init__(self, slots: list[PeerSlots], peer: str) -> None:
        self._slots = slots
        self._peer = peer
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, []
        for taken in slots:
            taken.release(self._peer)


def _releasing(responses: Iterator[Any], held: _Held) -> Iterator[Any]:
    try:
        yield from responses
    finally:
        held.release()
