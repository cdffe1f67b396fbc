"""The channel interface every multi-party algorithm is written against.

An algorithm exchanges typed protobuf messages with named parties ("platform/main", "source/tax",
"coordinator/main") under string tags. Two backends implement it: `InMemoryChannel` (one process, for
unit tests) and `GrpcChannel` (separate processes over mutual TLS). The same algorithm code runs on both.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import Message

from errors import InvalidInput, ProtocolViolation, Unavailable, XydError

M = TypeVar("M", bound=Message)


class ChannelError(XydError):
    """Base class of every transport failure an algorithm may see."""


class DuplicateTagError(ChannelError, ProtocolViolation):
    """A (sender, receiver, tag) triple was used twice: tags must be unique within a job."""

    def __init__(self, sender: str, receiver: str, tag: str) -> None:
        super().__init__(f"tag {tag!r} already used from {sender} to {receiver}")
        self.sender, self.receiver, self.tag = sender, receiver, tag


class ChannelTimeout(ChannelError, Unavailable):
    """No message arrived from a peer under a tag within the allowed time."""

    def __init__(self, peer: str, tag: str, seconds: float) -> None:
        super().__init__(f"no message {tag!r} from {peer} within {seconds:.1f}s")
        self.peer, self.tag, self.seconds = peer, tag, seconds


class PeerUnavailable(ChannelError, Unavailable):
    """A peer could not be reached after retries (dead process, wrong address, TLS refusal)."""

    def __init__(self, peer: str, address: str, reason: str) -> None:
        super().__init__(f"peer {peer} at {address} unavailable: {reason}")
        self.peer, self.address, self.reason = peer, address, reason


class UnknownPeerError(ChannelError, InvalidInput):
    """The algorithm named a party that is not part of this job."""


class MailboxClosed(ChannelError, Unavailable):
    """The stage this mailbox served has ended (finished, failed or cancelled): nothing more will arrive."""


class Channel(ABC):
    """Typed point-to-point messages between the named parties of one job.

    `send` returns once the peer has durably received the message (its mailbox holds it);
    `recv` blocks until the message with that tag from that peer arrives or `timeout` passes.
    """

    me: str

    @abstractmethod
    def send(self, to: str, tag: str, message: Message) -> None:
        """Deliver `message` to party `to` under `tag` (unique per sender/receiver pair)."""

    @abstractmethod
    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        """Wait for the message `frm` sent under `tag` and parse it as `message_type`."""

    @property
    @abstractmethod
    def parties(self) -> tuple[str, ...]:
        """Every party of the job, including `me`."""

    def scoped(self, namespace: str) -> Channel:
        """A view of this channel whose tags are prefixed with `namespace/`."""
        return ScopedChannel(self, namespace)


class ScopedChannel(Channel):
    """Prefixes every tag with a namespace (`job-42/tree-3/histograms`)."""

    def __init__(self, inner: Channel, namespace: str) -> None:
        self._inner = inner
        self._ns = namespace.strip("/")
        self.me = inner.me

    @property
    def parties(self) -> tuple[str, ...]:
        return self._inner.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self._inner.send(to, f"{self._ns}/{tag}", message)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        return self._inner.recv(frm, f"{self._ns}/{tag}", message_type, timeout)


class Mailbox:
    """Messages received by one party, keyed by (sender, tag); each key is delivered once.

    Shared by both backends: the gRPC server puts what arrives on the wire here.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: dict[tuple[str, str], bytes] = {}
        self._seen: set[tuple[str, str]] = set()
        self._unread: dict[str, int] = {}
        self._closed: str | None = None

    def close(self, reason: str = "closed") -> None:
        """Wake every waiter with `MailboxClosed` and refuse later messages."""
        with self._cond:
            self._closed = reason
            self._items.clear()
            self._unread.clear()
            self._cond.notify_all()

    def put(self, sender: str, tag: str, payload: bytes) -> None:
        """Store a payload; a second payload for the same (sender, tag) is refused."""
        key = (sender, tag)
        with self._cond:
            if self._closed is not None:
                raise MailboxClosed(f"mailbox {self._closed}: refused {tag!r} from {sender}")
            if key in self._seen:
                raise DuplicateTagError(sender, "me", tag)
            self._seen.add(key)
            self._items[key] = payload
            self._unread[sender] = self._unread.get(sender, 0) + len(payload)
            self._cond.notify_all()

    def take(self, sender: str, tag: str, timeout: float | None) -> bytes:
        """Remove and return the payload for (sender, tag), waiting up to `timeout` seconds."""
        key = (sender, tag)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while key not in self._items:
                if self._closed is not None:
                    raise MailboxClosed(f"mailbox {self._closed} while waiting for {tag!r} from {sender}")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ChannelTimeout(sender, tag, timeout or 0.0)
                self._cond.wait(remaining)
            payload = self._items.pop(key)
            self._unread[sender] -= len(payload)
            return payload

    def pending(self) -> int:
        """Number of messages received but not yet taken."""
        with self._cond:
            return len(self._items)

    def unread_bytes(self, sender: str) -> int:
        """Bytes of `sender`'s messages received but not yet taken."""
        with self._cond:
            return self._unread.get(sender, 0)

    @property
    def closed(self) -> bool:
        """Whether the stage this mailbox served has ended."""
        with self._cond:
            return self._closed is not None


@dataclass
class InMemoryHub:
    """The shared medium of in-process channels; `wire` records every payload for leakage tests."""

    parties: tuple[str, ...]
    wire: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    tap: Callable[[str, str, str, bytes], None] | None = None

    def __post_init__(self) -> None:
        self._boxes = {p: Mailbox() for p in self.parties}
        self._lock = threading.Lock()

    def channel(self, me: str) -> InMemoryChannel:
        if me not in self._boxes:
            raise UnknownPeerError(f"{me} is not a party of this hub: {self.parties}")
        return InMemoryChannel(me, self)

    def deliver(self, sender: str, receiver: str, tag: str, payload: bytes) -> None:
        if receiver not in self._boxes:
            raise UnknownPeerError(f"{receiver} is not a party: {self.parties}")
        with self._lock:
            self.wire.append((sender, receiver, tag, payload))
        if self.tap is not None:
            self.tap(sender, receiver, tag, payload)
        try:
            self._boxes[receiver].put(sender, tag, payload)
        except DuplicateTagError as exc:
            raise DuplicateTagError(sender, receiver, tag) from exc

    def mailbox(self, party: str) -> Mailbox:
        return self._boxes[party]


class InMemoryChannel(Channel):
    """A channel whose messages are serialised and delivered through an `InMemoryHub`."""

    def __init__(self, me: str, hub: InMemoryHub) -> None:
        self.me = me
        self._hub = hub

    @property
    def parties(self) -> tuple[str, ...]:
        return self._hub.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self._hub.deliver(self.me, to, tag, message.SerializeToString())

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        if frm not in self._hub.parties:
            raise UnknownPeerError(f"{frm} is not a party: {self._hub.parties}")
        payload = self._hub.mailbox(self.me).take(frm, tag, timeout)
        message = message_type()
        message.ParseFromString(payload)
        return message
