"""The gRPC edge's one error translator: a catalogue error becomes its status code and public text.

Every servicer of a `NodeServer` sits behind `ErrorTranslator`, so a handler raises (`Refused`, `NotFound`,
...) instead of aborting, and nothing internal reaches a caller: the detail of an error and the trace of an
unexpected exception go to the server's log; the caller gets the kind's status, the stable code and the
public text (`code: text`). Calls a servicer aborted itself pass through unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from errors import (
    AlreadyExists,
    ConfigurationError,
    Conflict,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    ProtocolViolation,
    Refused,
    Unavailable,
    XydError,
)
from federation.metrics import GRPC_HANDLED, GRPC_REFUSALS

log = logging.getLogger("xyd.grpc")

# Most specific first: AlreadyExists is a Conflict.
STATUS: tuple[tuple[type[XydError], grpc.StatusCode], ...] = (
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Refused, grpc.StatusCode.PERMISSION_DENIED),
    (Conflict, grpc.StatusCode.FAILED_PRECONDITION),
    (IntegrityFailure, grpc.StatusCode.DATA_LOSS),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (ProtocolViolation, grpc.StatusCode.FAILED_PRECONDITION),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
)


def status_of(error: XydError) -> grpc.StatusCode:
    """The gRPC status of a catalogue error's kind."""
    return next((status for kind, status in STATUS if isinstance(error, kind)), grpc.StatusCode.INTERNAL)


def public_details(error: XydError) -> str:
    """The details string a caller receives: `CODE: public text`."""
    return f"{error.code}: {error.public_message}"


def code_of(details: str | None) -> str | None:
    """The catalogue code a caller reads back from an error's details (None if it carries none)."""
    if not details or ": " not in details:
        return None
    code = details.split(": ", 1)[0]
    return code if code.replace("_", "").isalnum() and code.isupper() else None


def _already_aborted(context: grpc.ServicerContext) -> bool:
    # `context.abort` raises after setting the call's code: such an exception is the servicer's own answer.
    return context.code() not in (None, grpc.StatusCode.OK)


def _translate(error: BaseException, context: grpc.ServicerContext, method: str) -> None:
    GRPC_REFUSALS.labels(method, error.code if isinstance(error, XydError) else "INTERNAL").inc()
    if isinstance(error, XydError):
        log.warning("call refused", extra={"method": method, "code": error.code, "detail": str(error)})
        context.abort(status_of(error), public_details(error))
    log.error("call failed", extra={"method": method, "error": type(error).__name__}, exc_info=error)
    context.abort(grpc.StatusCode.INTERNAL, "INTERNAL: internal error")


class ErrorTranslator(grpc.ServerInterceptor):
    """Turns what a servicer raises into one gRPC status with public text (see the module docstring)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._unary(handler.unary_unary, method))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=self._unary(handler.stream_unary, method))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=self._streaming(handler.unary_stream, method))
        if handler.stream_stream is not None:
            return handler._replace(stream_stream=self._streaming(handler.stream_stream, method))
        return handler

    @staticmethod
    def _unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str
               ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def translated(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                return behaviour(request, context)
            except Exception as error:
                if _already_aborted(context):
                    raise
                _translate(error, context, method)
            finally:
                GRPC_HANDLED.labels(method).observe(time.perf_counter() - started)

        return translated

    @staticmethod
    def _streaming(behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str
                   ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def translated(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from behaviour(request, context)
            except Exception as error:
                if _already_aborted(context):
                    raise
                _translate(error, context, method)

        return translated
