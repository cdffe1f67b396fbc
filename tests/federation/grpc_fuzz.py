"""Hostile requests for any gRPC method, and the rule every answer must keep (issue 20 item 4).

A request is raw bytes sent over a generic channel: random bytes, a well-typed message with random field
values (bytes fields sometimes canonical JSON shaped like the consent artefacts, so the parsers behind them
are reached), or such a message cut short. Whatever arrives, the server answers a status with public text:
the translator's `CODE: text`, or gRPC's own fixed texts (a request that does not parse, a message over the
size limit). No traceback, no file path, no `INTERNAL: internal error` (an unexpected exception: a missing
validation).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("XYD_FUZZ_EXAMPLES", "12"))  # per method; `make fuzz` raises it
_TRANSLATED = re.compile(r"[A-Z][A-Z0-9_]*: \S")
# gRPC's own answers, sent before or around any servicer code: fixed texts that echo nothing.
_GRPC_OWN = {
    grpc.StatusCode.INTERNAL: {"Exception deserializing request!"},
    grpc.StatusCode.RESOURCE_EXHAUSTED: None,  # "Received message larger than max (N vs. M)"
    grpc.StatusCode.UNAUTHENTICATED: None,  # the peer admission's refusals (peer_auth.py)
    grpc.StatusCode.PERMISSION_DENIED: None,
    # HTTP/2 REFUSED_STREAM from the server's transport under a burst of calls: gRPC's own text, nothing leaked.
    grpc.StatusCode.UNAVAILABLE: {"Received RST_STREAM with error code 7"},
}
_LEAKS = ("Traceback", 'File "', ".py", "/work/", "/usr/", "/tmp/", "site-packages")
_JSON_KEYS = ("payload", "signature", "artefact", "status", "terms", "key_id", "signed_at", "id", "version",
              "nonce", "timestamp", "authorisation_id", "requester", "provider", "purpose", "question", "leaf",
              "index", "proof", "checkpoint", "credit_code", "subject", "providers", "categories")


@dataclass(frozen=True)
class Method:
    """One method of a service: its path and request type."""

    path: str
    request: Descriptor
    server_streaming: bool

    @classmethod
    def of(cls, method: MethodDescriptor) -> Method:
        return cls(f"/{method.containing_service.full_name}/{method.name}", method.input_type,
                   bool(method.server_streaming))


def methods_of(file_descriptor, service: str, *, skip: frozenset[str] = frozenset()) -> list[Method]:
    """The unary-request methods of `service` (client streams are out of scope here), minus `skip`."""
    found = file_descriptor.services_by_name[service].methods
    return [Method.of(m) for m in found if not m.client_streaming and m.name not in skip]


def json_documents() -> st.SearchStrategy[bytes]:
    """Canonical-looking JSON objects built from the artefacts' own keys, as UTF-8 bytes."""
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=40),
                     st.sampled_from(["", "AAAA", "2025-01-01T00:00:00Z", "auth-" + "0" * 64, "bank/x"]))
    value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(_JSON_KEYS), inner,
                                                                      max_size=4)), max_leaves=12)
    document = st.dictionaries(st.sampled_from(_JSON_KEYS), value, max_size=6)
    return document.map(lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    if kind == FieldDescriptor.TYPE_STRING:
        return st.one_of(st.text(max_size=60), st.sampled_from(["", "..", "../../etc/passwd", "model-1", "a" * 5000]))
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=300), json_documents())
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 40)
    unsigned = kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED32,
                        FieldDescriptor.TYPE_FIXED64)
    wide = kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
                    FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64)
    bits = 64 if wide else 32
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1]))


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy:
    """Messages of this type with random values in a random subset of fields (nesting up to 3 deep)."""
    cls = message_factory.GetMessageClass(descriptor)
    if depth > 2:
        return st.just(cls())
    fields = {}
    for field in descriptor.fields:
        values = _field_values(field, depth)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue  # maps are rare on requests; an empty map is still sent
            values = st.lists(values, max_size=3)
        fields[field.name] = values

    @st.composite
    def build(draw: Callable) -> object:
        message = cls()
        for name, values in fields.items():
            if not draw(st.booleans()):
                continue
            value = draw(values)
            field = descriptor.fields_by_name[name]
            target = getattr(message, name) if field.label == FieldDescriptor.LABEL_REPEATED or \
                field.type == FieldDescriptor.TYPE_MESSAGE else None
            if field.label == FieldDescriptor.LABEL_REPEATED:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    for item in value:
                        target.add().CopyFrom(item)
                else:
                    target.extend(value)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                target.CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    return build()


def request_bytes(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    """Random bytes, a random well-typed message, or a prefix of one."""
    typed = messages(descriptor).map(lambda m: m.SerializeToString())
    truncated = st.tuples(typed, st.integers(0, 400)).map(lambda pair: pair[0][: pair[1]])
    return st.one_of(st.binary(max_size=400), typed, truncated)


def call(channel: grpc.Channel, method: Method, payload: bytes, *, timeout: float = 20.0
         ) -> tuple[grpc.StatusCode, str]:
    """Send raw bytes as the request of `method`; the status and details it ends with (OK and '' on success)."""
    try:
        if method.server_streaming:
            stream = channel.unary_stream(method.path)(payload, timeout=timeout)
            for _ in zip(range(3), stream, strict=False):  # a few answers are enough; then hang up
                pass
            stream.cancel()
        else:
            channel.unary_unary(method.path)(payload, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def push(channel: grpc.Channel, path: str, frames: list[bytes], *, timeout: float = 20.0
         ) -> tuple[grpc.StatusCode, str]:
    """Send raw frames as a client stream (the mailbox's Push); the status it ends with."""
    try:
        channel.stream_unary(path)(iter(frames), timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def check_answer(method: Method, code: grpc.StatusCode, details: str, *, translated_only: bool = True) -> None:
    """The rule of the module docstring; raises AssertionError naming what broke it. `translated_only=False`
    admits a servicer's own abort texts (the mailbox still aborts with its own fixed texts)."""
    assert not any(leak in details for leak in _LEAKS), f"{method.path}: internal detail in {details!r}"
    if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
        return
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED), \
        f"{method.path}: {code.name} {details!r}"
    assert details != "INTERNAL: internal error", f"{method.path}: an unexpected exception (see the server log)"
    if _TRANSLATED.match(details) or not translated_only:
        return
    allowed = _GRPC_OWN.get(code, set())
    assert allowed is None or details in allowed, f"{method.path}: {code.name} with untranslated text {details!r}"
