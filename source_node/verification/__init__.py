"""Verification (核验) at the source node: the gRPC `Verification` and `Witness` services.

`attach(server, config=, table=, tls=)` adds both to the node's server before it starts; see `node.py` for
the `[verification]` settings and docs/protocols/verification.md for the flow.
"""

from source_node.verification.answering import BindingDirectory, LeafCapture, VerificationServicer
from source_node.verification.catalogue import catalogue_from_schema, catalogue_from_settings, table_lookup
from source_node.verification.keys import NodeKeys
from source_node.verification.node import VerificationNode, attach
from source_node.verification.registry_link import (
    RegistryKeys,
    RegistryLink,
    RegistryUnreachable,
    RemoteEnterpriseKeys,
    RemoteStatusSource,
)
from source_node.verification.witnessing import OFFICER_METHODS, WitnessServicer

__all__ = [
    "OFFICER_METHODS",
    "BindingDirectory",
    "LeafCapture",
    "NodeKeys",
    "RegistryKeys",
    "RegistryLink",
    "RegistryUnreachable",
    "RemoteEnterpriseKeys",
    "RemoteStatusSource",
    "VerificationNode",
    "VerificationServicer",
    "WitnessServicer",
    "attach",
    "catalogue_from_schema",
    "catalogue_from_settings",
    "table_lookup",
]
