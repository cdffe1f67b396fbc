"""The committed generated protobuf code must match what the .proto files generate now."""

from pathlib import Path

import pytest

from federation.proto import build


def test_generated_code_matches_proto_sources(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    (tmp_path / "federation" / "proto").mkdir(parents=True)
    fresh = build.generate(tmp_path)
    assert fresh, "no generated files"
    for path in fresh:
        committed = build.PROTO_DIR / path.name
        assert committed.exists(), f"{path.name} is generated but not committed: run `make protos`"
        assert committed.read_text() == path.read_text(), f"{path.name} drifted from its .proto: run `make protos`"
    names = {p.name for p in fresh}
    stale = {p.name for p in build.PROTO_DIR.glob("*_pb2*.py*")} - names
    assert not stale, f"generated files without a .proto: {sorted(stale)}"
