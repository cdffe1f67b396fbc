"""Typed failures of Merkle proof verification: each says what was expected and what was found."""

from __future__ import annotations

from errors import IntegrityFailure


class ProofError(IntegrityFailure, ValueError):
    """Base class: a Merkle proof (or its inputs) did not verify."""


class InclusionProofError(ProofError):
    """An inclusion proof is malformed for its index and tree size (wrong length, bad hash size, bad index)."""


class ConsistencyProofError(ProofError):
    """A consistency proof is malformed for its two sizes, or its reconstruction of the old root failed."""


class SubtreeProofError(ProofError):
    """A subtree (draft-ietf-plants-merkle-tree-certs) proof is malformed or names an invalid subtree."""


class RootMismatchError(ProofError):
    """The root recomputed from a proof differs from the root it was checked against."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(f"calculated root {calculated.hex()} does not match expected root {expected.hex()}")
        self.expected = expected
        self.calculated = calculated
