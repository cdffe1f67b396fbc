"""Request ids across processes: one id per bank request, carried to every node that works on it.

The HTTP edge accepts a well-formed `x-request-id` header or makes one; the id lives in a context variable
for the request's whole path through the process (threads started with `contextvars` copy it), rides as
gRPC metadata on calls the request causes, and `federation.logs` writes it as the `request_id` field of every
log line. A server binds the id it receives for the duration of the call
(`federation.request_id_interceptor`).
An id is an opaque token: letters, digits, `.`, `_`, `-`, at most 64 characters; a coalesced call that serves
several requests carries their ids joined by `,` (at most `MAX_JOINED` of them).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # this module is imported by the log formatter: it stays free of gRPC at run time
    import grpc

HEADER = "x-request-id"
METADATA_KEY = "x-request-id"
MAX_JOINED = 64
_ONE = r"[A-Za-z0-9._-]{1,64}"
_WELL_FORMED = re.compile(_ONE)
_JOINED = re.compile(rf"{_ONE}(,{_ONE}){{0,{MAX_JOINED - 1}}}")

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("xyd_request_id", default=None)


def new_request_id() -> str:
    """A fresh random id (128 bits, hex)."""
    return os.urandom(16).hex()


def accept_request_id(offered: str | None) -> str:
    """The caller's id if it is well formed, else a fresh one (a malformed id is never logged or echoed)."""
    if offered is not None and _WELL_FORMED.fullmatch(offered):
        return offered
    return new_request_id()


def join_request_ids(ids: Iterable[str | None]) -> str | None:
    """The ids of the requests one shared call serves, as one metadata value (the first `MAX_JOINED`)."""
    distinct = list(dict.fromkeys(i for i in ids if i))[:MAX_JOINED]
    return ",".join(distinct) or None


def outgoing_metadata() -> tuple[tuple[str, str], ...] | None:
    """gRPC metadata carrying the current request id, or None outside a request."""
    current = REQUEST_ID.get()
    return ((METADATA_KEY, current),) if current else None


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Make `request_id` the current one inside the block."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def incoming_request_id(context: grpc.ServicerContext) -> str | None:
    """The well-formed id (or joined ids) a caller sent as metadata, if any."""
    for key, value in context.invocation_metadata() or ():
        if key == METADATA_KEY and isinstance(value, str) and _JOINED.fullmatch(value):
            return value
    return None
