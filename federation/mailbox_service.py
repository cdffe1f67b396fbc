"""The receiving end of the data plane: per-stage mailboxes and the gRPC Mailbox service that fills them.

A mailbox exists only while this node runs a stage of a job: `RunTask` (or the coordinator's arbiter) opens
its session with the stage's parties and the job's ceiling on one message, and closes it when the stage
ends. A push is checked against that session before any of its payload is kept: it must name an open
session, come from one of its parties (the party named by the caller's certificate, never by anything the
caller writes), and announce no more than the job's ceiling; its payload is then buffered as it arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grpc

from federation.channel import ChannelError, DuplicateTagError, Mailbox
from federation.chunking import (
    DEFAULT_MAX_MESSAGE_BYTES,
    HARD_MAX_MESSAGE_BYTES,
    MAILBOX_SERVICE,
    FramingError,
    PayloadCorrupted,
    Reassembly,
    check_header,
    parse_frame,
)
from federation.job_ids import InvalidJobId, check_session
from federation.peer_auth import peer_identity
from federation.proto import transport_pb2

log = logging.getLogger(__name__)


class JobClosed(ChannelError):
    """A message arrived for, or a mailbox was asked of, a stage this node already closed."""


class SessionNotOpen(ChannelError):
    """No stage of this session runs here with the sender among its parties (not yet, or never)."""


class MessageRefused(ChannelError):
    """A push exceeds the session's ceiling on one message or its sender's quota of unread bytes."""

    def __init__(self, message: str, *, retry_later: bool) -> None:
        super().__init__(message)
        self.retry_later = retry_later


@dataclass(frozen=True)
class SessionTerms:
    """Who may push into a session, and how large one message may be."""

    parties: frozenset[str]
    max_message_bytes: int


class MailboxRouter:
    """The mailboxes of the stages this node runs, opened and closed by the stage's runner."""

    def __init__(self, *, max_message_bytes: int = HARD_MAX_MESSAGE_BYTES,
                 max_unread_bytes: int = 2 * HARD_MAX_MESSAGE_BYTES) -> None:
        if not 0 < max_message_bytes <= HARD_MAX_MESSAGE_BYTES:
            raise ValueError(f"max_message_bytes must be in 1..{HARD_MAX_MESSAGE_BYTES}")
        self.max_message_bytes = max_message_bytes
        self._max_unread = max_unread_bytes
        self._lock = threading.Lock()
        self._boxes: dict[str, Mailbox] = {}
        self._terms: dict[str, SessionTerms] = {}
        self._push_ids: dict[str, dict[tuple[str, str], bytes]] = {}
        self._closed: dict[str, frozenset[str]] = {}

    def open(self, session: str, parties: Iterable[str], *, max_message_bytes: int | None = None) -> Mailbox:
        """Open (or return, if already open) the mailbox of `session`, accepting pushes from `parties` only.

        `max_message_bytes` is the job's ceiling (the default when None); more than this node's own
        maximum is refused with `ValueError`, so a job cannot raise what the node accepts.
        """
        check_session(session)
        if max_message_bytes is None:
            ceiling = min(DEFAULT_MAX_MESSAGE_BYTES, self.max_message_bytes)
        else:
            ceiling = max_message_bytes
        if not 0 < ceiling <= self.max_message_bytes:
            raise ValueError(f"a message ceiling of {ceiling} bytes is outside this node's 1..{self.max_message_bytes}")
        with self._lock:
            if session in self._closed:
                raise JobClosed(f"session {session} is closed on this node")
            box = self._boxes.get(session)
            if box is None:
                box = self._boxes[session] = Mailbox()
                self._terms[session] = SessionTerms(frozenset(parties), ceiling)
            return box

    def for_job(self, session: str) -> Mailbox:
        """The mailbox of an open session; raise `SessionNotOpen` otherwise."""
        with self._lock:
            box = self._boxes.get(session)
        if box is None:
            raise SessionNotOpen(f"session {session} is not open on this node")
        return box

    def close_job(self, session: str) -> None:
        """Drop the session's mailbox and refuse later messages for it."""
        with self._lock:
            terms = self._terms.pop(session, None)
            # Closing twice (the stage's end, then the call's) keeps the parties the first close recorded.
            self._closed.setdefault(session, terms.parties if terms is not None else frozenset())
            box = self._boxes.pop(session, None)
            self._push_ids.pop(session, None)
        if box is not None:
            box.close(f"of {session} closed")

    def admit(self, session: str, sender: str, announced: int) -> int:
        """The ceiling a push from `sender` into `session` must stay within, checked before any payload.

        Raises `SessionNotOpen` (also for a sender outside the session: one answer for both, so a peer
        outside a job cannot learn whether it runs here), `JobClosed` (to a party of a closed session), or
        `MessageRefused` (over the ceiling; over the sender's unread quota: retry later).
        """
        with self._lock:
            terms = self._terms.get(session)
            if terms is None or sender not in terms.parties:
                if sender in self._closed.get(session, frozenset()):
                    raise JobClosed("this stage is closed on this node")
                raise SessionNotOpen("no stage of this job with you as a party runs on this node")
            box = self._boxes[session]
        if announced > terms.max_message_bytes:
            raise MessageRefused(f"message exceeds the job's limit of {terms.max_message_bytes} bytes",
                                 retry_later=False)
        # Twice the ceiling: the protocols read what they are sent before asking for more (a PSI side holds
        # its peer's whole blinded set at most, 32 MiB per million ids), so more is a sender flooding memory.
        if box.unread_bytes(sender) + announced > min(2 * terms.max_message_bytes, self._max_unread):
            raise MessageRefused("too many of your messages are waiting unread", retry_later=True)
        return terms.max_message_bytes

    def deliver(self, session: str, sender: str, tag: str, payload: bytes, *, push_id: bytes = b"") -> None:
        """File a payload; a retry of an already delivered push (same non-empty push_id) is a no-op."""
        with self._lock:
            if session in self._closed:
                raise JobClosed("this stage is closed on this node")
            box = self._boxes.get(session)
            if box is None:
                raise SessionNotOpen("no stage of this job with you as a party runs on this node")
            seen = self._push_ids.setdefault(session, {})
            earlier = seen.get((sender, tag))
            if earlier is not None and push_id and earlier == push_id:
                return
            if earlier is not None:
                raise DuplicateTagError(sender, f"session {session}", tag)
            seen[(sender, tag)] = push_id
        box.put(sender, tag, payload)


class MailboxServicer:
    """Reassembles pushed frame streams and files each payload in its session's mailbox.

    Registered with a raw-bytes request deserializer (`add_to_server`) so chunk frames are copied once,
    straight into the payload buffer; any valid `Frame` encoding is still accepted.
    """

    def __init__(self, router: MailboxRouter) -> None:
        self._router = router

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
            check_header(header)
            check_session(header.job_id)
            ceiling = self._router.admit(header.job_id, sender, header.total_bytes)
            assembly = Reassembly(header, max_payload_bytes=ceiling)
            for raw in request_iterator:
                chunk = parse_frame(raw)
                if not isinstance(chunk, memoryview):
                    raise FramingError("a second header inside one push")
                assembly.add(chunk)
            payload = assembly.finish()
        except InvalidJobId:
            log.warning("push refused: malformed session", extra={"sender": sender})
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the header's job id is malformed")
        except SessionNotOpen as exc:
            # Info, not warning: a party's push may legitimately arrive just before its stage opens here.
            log.info("push refused: session not open", extra={"sender": sender})
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except JobClosed as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except MessageRefused as exc:
            log.warning("push refused", extra={"sender": sender, "reason": str(exc)})
            code = grpc.StatusCode.RESOURCE_EXHAUSTED if exc.retry_later else grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, str(exc))
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
            context.abort(grpc.StatusCode.ALREADY_EXISTS, "this tag was already received from you in this job")
        except (JobClosed, SessionNotOpen) as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return transport_pb2.PushAck(received_bytes=assembly.received)
