"""The server side of request ids: bind the id a caller sent as metadata while its handler runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from federation.request_ids import bound, incoming_request_id


class RequestIdInterceptor(grpc.ServerInterceptor):
    """Binds the caller's request id (from metadata) while a unary handler runs, so the servicer's log lines
    carry it. Streaming handlers are left alone: they are jobs and mailboxes, not bank requests."""

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
                          handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary

        def with_id(request: Any, context: grpc.ServicerContext) -> Any:
            with bound(incoming_request_id(context)):
                return behaviour(request, context)

        return handler._replace(unary_unary=with_id)
