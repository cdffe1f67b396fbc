"""RFC 6962 / RFC 9162 Merkle tree math (SHA-256): hashing, roots, proof generation and verification.

Pure functions over hashes; storage is the caller's (see `NodeReader`). Verification raises typed errors.
"""

from consent.merkle.errors import (
    ConsistencyProofError,
    InclusionProofError,
    ProofError,
    RootMismatchError,
    SubtreeProofError,
)
from consent.merkle.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from consent.merkle.proofs import consistency_proof, inclusion_proof, tree_root
from consent.merkle.subtree import (
    subtree_consistency_proof,
    subtree_inclusion_proof,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from consent.merkle.tree import (
    Frontier,
    MemoryTree,
    NodeId,
    NodeReader,
    is_valid_subtree,
    root_of_leaf_hashes,
)
from consent.merkle.verify import (
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ConsistencyProofError",
    "Frontier",
    "InclusionProofError",
    "MemoryTree",
    "NodeId",
    "NodeReader",
    "ProofError",
    "RootMismatchError",
    "SubtreeProofError",
    "consistency_proof",
    "inclusion_proof",
    "is_valid_subtree",
    "leaf_hash",
    "node_hash",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_of_leaf_hashes",
    "subtree_consistency_proof",
    "subtree_inclusion_proof",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]
