"""Message types and record layouts between the ServerApp and the banks' ClientApps.

Named once here and imported by both apps (which never import each other). Payloads are Flower
records of bytes, numbers and strings: ciphertexts and sealed models as bytes, nothing pickled.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from flwr.app import ConfigRecord, MetricRecord, RecordDict
from flwr.common.serde import recorddict_to_proto

from models.errors import ProtocolError
from models.horizontal import BinEdges, Publication


class MessageKind(StrEnum):
    """Flower message types ("<category>.<action>") the banks answer."""

    SETUP = "query.setup"
    TRAIN_LOGISTIC = "train.logistic"
    TRAIN_XGBOOST = "train.xgboost"
    PUBLISH = "evaluate.publish"


JOB = "job"          # ConfigRecord server -> bank: round and ciphertexts / sealed model
REPLY = "reply"      # ConfigRecord bank -> server: bank name and payload
FIGURES = "figures"  # MetricRecord bank -> server: held-out figures, loss, epsilon


def job(**fields: object) -> RecordDict:
    """A request: None-valued fields are left out (e.g. no global model before round 1)."""
    return RecordDict({JOB: ConfigRecord({k: v for k, v in fields.items() if v is not None})})


def reply(bank: str, figures: dict[str, float] | None = None, **fields: object) -> RecordDict:
    content = RecordDict({REPLY: ConfigRecord({"bank": bank, **fields})})
    if figures is not None:
        content[FIGURES] = MetricRecord({k: float(v) for k, v in figures.items()})
    return content


def field(content: RecordDict, record: str, key: str) -> object:
    try:
        return content.config_records[record][key]
    except KeyError as exc:
        raise ProtocolError(f"message lacks {record}.{key}") from exc


def bytes_field(content: RecordDict, record: str, key: str) -> bytes:
    value = field(content, record, key)
    if not isinstance(value, bytes):
        raise ProtocolError(f"{record}.{key} must be bytes, found {type(value).__name__}")
    return value


def int_field(content: RecordDict, record: str, key: str) -> int:
    value = field(content, record, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{record}.{key} must be an integer, found {type(value).__name__}")
    return value


def str_field(content: RecordDict, record: str, key: str) -> str:
    return str(field(content, record, key))


def optional_bytes(content: RecordDict, record: str, key: str) -> bytes | None:
    value = content.config_records[record].get(key) if record in content.config_records else None
    return bytes(value) if value is not None else None


def figures_of(content: RecordDict) -> dict[str, float]:
    if FIGURES not in content.metric_records:
        return {}
    return {k: float(v) for k, v in content.metric_records[FIGURES].items()}


def publication_fields(pub: Publication) -> dict[str, object]:
    """A publication as record fields: ragged bin edges flattened with their lengths."""
    if pub.bin_edges is None:
        return {"features": list(pub.feature_names), "booster": pub.booster}
    return {"features": list(pub.feature_names), "weights": [float(w) for w in pub.weights],
            "edge-values": [v for e in pub.bin_edges.edges for v in e],
            "edge-lengths": [len(e) for e in pub.bin_edges.edges]}


def publication_from(content: RecordDict) -> Publication:
    rec = content.config_records[REPLY]
    figures = figures_of(content)
    names = tuple(str(n) for n in rec["features"])
    if "booster" in rec:
        return Publication(names, np.zeros(0), None, bytes(rec["booster"]), figures)
    values, lengths = list(rec["edge-values"]), list(rec["edge-lengths"])
    edges, start = [], 0
    for n in lengths:
        edges.append(tuple(float(v) for v in values[start:start + n]))
        start += n
    return Publication(names, np.asarray(rec["weights"], dtype=np.float64), BinEdges(tuple(edges)), b"", figures)


def payload_bytes(content: RecordDict) -> int:
    """Serialised size of a message's records (what crosses the wire, before HTTP/TLS framing)."""
    return recorddict_to_proto(content).ByteSize()
