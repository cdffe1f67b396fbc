"""Framing of one payload as a header frame followed by chunk frames, and its checked reassembly.

Chunking keeps every gRPC message near `chunk_bytes` (1 MiB by default), far below the message limits,
whatever the payload size; the header's size and SHA-256 let the receiver detect truncation and corruption.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from google.protobuf.message import DecodeError

from federation.channel import ChannelError
from federation.proto import transport_pb2

DEFAULT_CHUNK_BYTES = 1 << 20
MAX_CHUNK_BYTES = 4 << 20
# gRPC's per-message limit on both ends: a largest chunk plus room for its frame, and for control-plane
# messages (schemas, job specs) that are not chunked.
MAX_MESSAGE_BYTES = 16 << 20
GRPC_MESSAGE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)
MAILBOX_SERVICE = transport_pb2.DESCRIPTOR.services_by_name["Mailbox"].full_name
PUSH_METHOD = f"/{MAILBOX_SERVICE}/Push"
# A job's ceiling on one message when its job file declares none (`[job] max_message_mb`): above the largest
# message of the benchmarks (a 1M-row PSI batch is 32 MiB; SecureBoost's encrypted gradients of 1M rows are
# 512 bytes each, 488 MiB).
DEFAULT_MAX_MESSAGE_BYTES = 512 << 20
# No job and no node may accept a larger message: a node's own maximum (`[limits] max_message_mb`) is at most this.
HARD_MAX_MESSAGE_BYTES = 4 << 30
# Tags and push ids are short names and nonces; a header carrying more is refused before it is kept.
MAX_TAG_BYTES = 512
MAX_PUSH_ID_BYTES = 64


class FramingError(ChannelError):
    """A stream of frames is malformed, truncated or larger than announced or allowed."""


class PayloadCorrupted(FramingError):
    """The reassembled payload's SHA-256 differs from the one its header announced."""


def frame_header(job_id: str, tag: str, payload: bytes, *, push_id: bytes) -> transport_pb2.FrameHeader:
    """The header announcing `payload`: its size and SHA-256 (computed once, reused on every retry)."""
    return transport_pb2.FrameHeader(
        job_id=job_id,
        tag=tag,
        total_bytes=len(payload),
        sha256=hashlib.sha256(payload).digest(),
        push_id=push_id,
    )


def iter_frames(
    header: transport_pb2.FrameHeader, payload: bytes, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Yield the wire encoding of the header frame, then of chunk frames of at most `chunk_bytes` each.

    Frames are produced lazily, one chunk at a time; a chunk frame is encoded straight from a view of the
    payload (one copy) instead of through a `Frame` message (three copies).
    """
    if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
        raise ValueError(f"chunk_bytes must be in 1..{MAX_CHUNK_BYTES}")
    if header.total_bytes != len(payload):
        raise ValueError("header does not announce this payload")
    yield transport_pb2.Frame(header=header).SerializeToString()
    view = memoryview(payload)
    for start in range(0, len(payload), chunk_bytes):
        yield encode_chunk(view[start : start + chunk_bytes])


# Protobuf wire tag of `Frame.chunk`: field 2, length-delimited.
_CHUNK_TAG = bytes([(transport_pb2.Frame.CHUNK_FIELD_NUMBER << 3) | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(pos, min(pos + 10, len(data))):
        value |= (data[index] & 0x7F) << shift
        if not data[index] & 0x80:
            return value, index + 1
        shift += 7
    return -1, pos


def encode_chunk(chunk: bytes | memoryview) -> bytes:
    """The wire encoding of `Frame(chunk=chunk)`, byte for byte."""
    return b"".join((_CHUNK_TAG, _varint(len(chunk)), chunk))


def parse_frame(raw: bytes) -> transport_pb2.FrameHeader | memoryview:
    """Decode one wire frame: a header frame as its message, a chunk frame as a view of its bytes (no copy)."""
    if raw[:1] == _CHUNK_TAG:
        length, start = _read_varint(raw, 1)
        if start + length == len(raw):
            return memoryview(raw)[start:]
    try:
        frame = transport_pb2.Frame.FromString(raw)  # any other valid encoding of a frame
    except DecodeError as exc:
        raise FramingError(f"undecodable frame: {exc}") from exc
    kind = frame.WhichOneof("body")
    if kind == "header":
        return frame.header
    if kind == "chunk":
        return memoryview(frame.chunk)
    raise FramingError("frame carries neither a header nor a chunk")


def check_header(header: transport_pb2.FrameHeader) -> None:
    """Refuse a header whose job, tag, digest or push id cannot be right, before anything is kept of it."""
    if not header.job_id or not header.tag:
        raise FramingError("header names no job or no tag")
    if len(header.tag.encode()) > MAX_TAG_BYTES or len(header.push_id) > MAX_PUSH_ID_BYTES:
        raise FramingError(f"header tag over {MAX_TAG_BYTES} bytes or push id over {MAX_PUSH_ID_BYTES} bytes")
    if len(header.sha256) != hashlib.sha256().digest_size:
        raise FramingError(f"header digest has {len(header.sha256)} bytes, expected 32")


class Reassembly:
    """Collects the chunks announced by one header, checking size and digest.

    The buffer grows with the bytes that arrive, never with the size the header announces: a header is
    only a claim, and a sender that announces 1 GiB and sends nothing must cost nothing.
    """

    def __init__(
        self, header: transport_pb2.FrameHeader, *, max_payload_bytes: int = HARD_MAX_MESSAGE_BYTES
    ) -> None:
        check_header(header)
        if header.total_bytes > max_payload_bytes:
            raise FramingError(
                f"payload of {header.total_bytes} bytes exceeds the limit of {max_payload_bytes}"
            )
        self.header = header
        self._announced = header.total_bytes
        self._buffer = bytearray()
        self._digest = hashlib.sha256()

    @property
    def received(self) -> int:
        return len(self._buffer)

    def add(self, chunk: bytes | memoryview) -> None:
        """Append one chunk; refuse more bytes than the header announced."""
        if len(self._buffer) + len(chunk) > self._announced:
            raise FramingError(f"stream carries more than the announced {self._announced} bytes")
        # bytearray grows by realloc (mremap for large buffers on Linux), so appending stays linear.
        self._buffer += chunk
        self._digest.update(chunk)

    def finish(self) -> bytearray:
        """The complete payload; raise `FramingError` if bytes are missing or the digest differs."""
        if len(self._buffer) != self._announced:
            raise FramingError(f"stream ended after {len(self._buffer)} of {self._announced} bytes")
        if self._digest.digest() != self.header.sha256:
            raise PayloadCorrupted("payload SHA-256 does not match the header")
        return self._buffer
