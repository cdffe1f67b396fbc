"""The receiving end of the data plane: per-job mailboxes and the gRPC Mailbox service that fills them.

A pushed payload is filed under (sender, tag), where the sender is the party named by the caller's
certificate, never by anything the caller writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from federation.channel import ChannelError, DuplicateTagError, Mailbox
from federation.chunking import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAILBOX_SERVICE,
    FramingError,
    PayloadCorrupted,
    Reassembly,
    parse_frame,
)
from federation.peer_auth import peer_identity
from federation.proto import transport_pb2

log = logging.getLogger(__name__)


class JobClosed(ChannelError):
    """A message arrived for, or a mailbox was asked of, a job this node already closed."""


class MailboxRouter:
    """The mailboxes of every job this node takes part in, created on first use by either side."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[str, Mailbox] = {}
        self._push_ids: dict[str, dict[tuple[str, str], bytes]] = {}
        self._closed: set[str] = set()

    def for_job(self, job_id: str) -> Mailbox:
        """The mailbox of `job_id` (messages that arrived before this call are already in it)."""
        with self._lock:
            return self._open(job_id)

    def close_job(self, job_id: str) -> None:
        """Drop the job's mailbox and refuse later messages for it."""
        with self._lock:
            self._closed.add(job_id)
            box = self._boxes.pop(job_id, None)
            self._push_ids.pop(job_id, None)
        if box is not None:
            box.close(f"of {job_id} closed")

    def deliver(self, job_id: str, sender: str, tag: str, payload: bytes, *, push_id: bytes = b"") -> None:
        """File a payload; a retry of an already delivered push (same non-empty push_id) is a no-op."""
        with self._lock:
            box = self._open(job_id)
            seen = self._push_ids.setdefault(job_id, {})
            earlier = seen.get((sender, tag))
            if earlier is not None and push_id and earlier == push_id:
                return
            if earlier is not None:
                raise DuplicateTagError(sender, f"job {job_id}", tag)
            seen[(sender, tag)] = push_id
        box.put(sender, tag, payload)

    def _open(self, job_id: str) -> Mailbox:
        if job_id in self._closed:
            raise JobClosed(f"job {job_id} is closed on this node")
        box = self._boxes.get(job_id)
        if box is None:
            box = self._boxes[job_id] = Mailbox()
        return box


class MailboxServicer:
    """Reassembles pushed frame streams and files each payload in its job's mailbox.

    Registered with a raw-bytes request deserializer (`add_to_server`) so chunk frames are copied once,
    straight into the payload buffer; any valid `Frame` encoding is still accepted.
    """

    def __init__(self, router: MailboxRouter, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
        self._router = router
        self._max_payload_bytes = max_payload_bytes

    def add_to_server(self, server: grpc.Server) -> None:
        """Register `Push` on `server` under the service name of transport.proto."""
        handler = grpc.stream_unary_rpc_method_handler(
            self.Push, request_deserializer=None, response_serializer=transport_pb2.PushAck.SerializeToString
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(MAILBOX_SERVICE, {"Push": handler}),)
        )

    def Push(  # noqa: N802 - the gRPC method name
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> transport_pb2.PushAck:
        sender = peer_identity(context).party
        try:
            first = next(request_iterator, None)
            header = None if first is None else parse_frame(first)
            if not isinstance(header, transport_pb2.FrameHeader):
                raise FramingError("a push must start with a header frame")
            assembly = Reassembly(header, max_payload_bytes=self._max_payload_bytes)
            for raw in request_iterator:
                chunk = parse_frame(raw)
                if not isinstance(chunk, memoryview):
                    raise FramingError("a second header inside one push")
                assembly.add(chunk)
            payload = assembly.finish()
        except FramingError as exc:
            code = (
                grpc.StatusCode.DATA_LOSS
                if isinstance(exc, PayloadCorrupted)
                else grpc.StatusCode.INVALID_ARGUMENT
            )
            log.warning("push from %s refused: %s", sender, exc)
            context.abort(code, str(exc))
        try:
            # The bytearray is handed over as is: copying a payload of hundreds of MB again buys nothing.
            self._router.deliver(header.job_id, sender, header.tag, payload, push_id=header.push_id)  # type: ignore[arg-type]
        except DuplicateTagError:
            context.abort(
                grpc.StatusCode.ALREADY_EXISTS, f"tag {header.tag!r} already received from {sender}"
            )
        except JobClosed as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return transport_pb2.PushAck(received_bytes=assembly.received)
