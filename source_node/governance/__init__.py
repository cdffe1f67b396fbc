"""Data governance at a source node: the unit's catalogue and approval key from its config, its own store of
approvals, and the gate every stage, online score and verification answer passes before touching data."""

from source_node.governance.node_governance import SourceGovernance, open_governance
from source_node.governance.stages import GovernedChannel, governed

__all__ = ["GovernedChannel", "SourceGovernance", "governed", "open_governance"]
