"""Every transparency-dev/merkle test vector: happy paths verify, every mutated case is rejected."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from consent.merkle import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

_REPO = Path(__file__).resolve().parents[2]
TESTDATA = Path(os.environ.get("XYD_MERKLE_TESTDATA", _REPO.parent / "shared" / "data" / "merkle" / "testdata"))
KINDS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")


def _cases() -> list[Path]:
    if not TESTDATA.is_dir():
        return []
    return sorted(TESTDATA.rglob("*.json"))


CASES = _cases()
needs_vectors = pytest.mark.skipif(
    not CASES, reason=f"Merkle test vectors not found at {TESTDATA} (set XYD_MERKLE_TESTDATA)"
)


def _b(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b(v) for v in values or []]


def _run(kind: str, case: dict) -> None:
    if kind == "inclusion":
        verify_inclusion(
            _b(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case["proof"]), _b(case["root"])
        )
    elif kind == "consistency":
        verify_consistency(
            case["size1"], case["size2"], _b(case["root1"]), _b(case["root2"]), _proof(case["proof"])
        )
    elif kind == "subtreeinclusion":
        verify_subtree_inclusion(
            _b(case["leafHash"]), case["leafIdx"], case["start"], case["end"], _proof(case["proof"]),
            _b(case["root"]),
        )
    elif kind == "subtreeconsistency":
        verify_subtree_consistency(
            case["start"], case["end"], case["size"], _b(case["root1"]), _b(case["root2"]),
            _proof(case["proof"]),
        )
    else:
        raise AssertionError(f"unknown vector family {kind}")


@needs_vectors
def test_every_vector_family_is_present_and_classified() -> None:
    families = {path.relative_to(TESTDATA).parts[0] for path in CASES}
    assert families == set(KINDS)
    assert len(CASES) > 500
    happy = [p for p in CASES if not json.loads(p.read_text())["wantErr"]]
    assert len(happy) >= 20  # both accepted and rejected cases are exercised


@needs_vectors
@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(TESTDATA)))
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    kind = path.relative_to(TESTDATA).parts[0]
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _run(kind, case)
    else:
        assert _run(kind, case) is None  # verified: no error raised
