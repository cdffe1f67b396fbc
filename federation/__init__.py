"""xyd federation: the wire (protobufs, mTLS/PKI, channels, chunked streams, PSI, node process life).

Algorithms import `Channel` (and `InMemoryChannel` in tests); `GrpcChannel` is loaded lazily so that
importing the interface never pulls gRPC into `models/`.
"""

from typing import Any

from federation.channel import Channel, InMemoryChannel, InMemoryHub

__all__ = ["Channel", "GrpcChannel", "InMemoryChannel", "InMemoryHub"]


def __getattr__(name: str) -> Any:
    if name == "GrpcChannel":
        from federation.grpc_channel import GrpcChannel

        return GrpcChannel
    raise AttributeError(name)
