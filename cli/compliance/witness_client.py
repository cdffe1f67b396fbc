"""Ask each witness (source node) directly for the latest checkpoint it cosigned.

The officer's admin certificate opens an mTLS channel pinned to the witness's own identity (its cosigning
key's name, e.g. `source/tax`), so the log's operator can neither answer in a witness's place nor replay an
old answer (each answer is cosigned at the time of asking). A witness that cannot be reached or refuses is a
`WitnessAnswer` with a failure, counted against the quorum, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc

from cli.compliance.officer import WitnessEndpoint
from consent.audit import WitnessAnswer
from federation.grpc_channel import open_secure_channel
from federation.pki import Identity, InvalidIdentity, NodeTls
from federation.proto import verification_pb2, verification_pb2_grpc


def ask_witness(tls: NodeTls, witness: WitnessEndpoint, origin: str, *, timeout: float = 5.0) -> WitnessAnswer:
    """One witness's latest cosigned checkpoint of log `origin` (None if it has cosigned none yet)."""
    try:
        identity = Identity.parse(witness.name)
    except InvalidIdentity as error:
        return WitnessAnswer(witness.name, failure=f"its key name is not a party: {error}")
    channel = open_secure_channel(witness.address, tls, identity)
    try:
        stub = verification_pb2_grpc.WitnessStub(channel)
        reply = stub.LatestCosigned(verification_pb2.LatestCosignedRequest(origin=origin), timeout=timeout)
    except grpc.RpcError as error:
        return WitnessAnswer(witness.name, failure=f"{error.code().name}: {error.details()}")
    finally:
        channel.close()
    return WitnessAnswer(witness.name, note=reply.note or None)


def ask_witnesses(tls: NodeTls, witnesses: Sequence[WitnessEndpoint], origin: str, *,
                  timeout: float = 5.0) -> list[WitnessAnswer]:
    """Every witness's answer, asked in parallel, in the order given."""
    if not witnesses:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(witnesses)), thread_name_prefix="xyd-ask-witness") as pool:
        return list(pool.map(lambda w: ask_witness(tls, w, origin, timeout=timeout), witnesses))
