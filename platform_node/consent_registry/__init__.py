"""The platform-embedded consent registry over the network: the gRPC `ConsentRegistry` service, the relay
of verification requests to source nodes, and checkpoint publishing with source nodes as witnesses.

`attach(server, config=, tls=)` adds it all to the platform's server before it starts. The HTTP API can
call `relay_verification(...)` with an open `ConsentRegistry` and `SourceChannels`.
"""

from platform_node.consent_registry.keys import RegistryKeyring
from platform_node.consent_registry.node import ConsentRegistryNode, attach, prepare
from platform_node.consent_registry.registry import ConsentRegistry, SourceEntry
from platform_node.consent_registry.relay import RelayOutcome, SourceChannels, relay_verification
from platform_node.consent_registry.servicer import ConsentRegistryServicer
from platform_node.consent_registry.witnesses import CheckpointPublishing, GrpcWitnessClient, default_quorum

__all__ = [
    "CheckpointPublishing",
    "ConsentRegistry",
    "ConsentRegistryNode",
    "ConsentRegistryServicer",
    "GrpcWitnessClient",
    "RegistryKeyring",
    "RelayOutcome",
    "SourceChannels",
    "SourceEntry",
    "attach",
    "default_quorum",
    "prepare",
    "relay_verification",
]
