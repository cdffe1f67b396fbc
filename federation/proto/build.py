"""Regenerate the Python code of every .proto in this folder (`make protos`).

Generated files are committed; tests/federation/test_proto_sync.py regenerates them into a temporary
folder and fails when the committed copies drift from the .proto sources.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parent.parent


def generate(out_dir: Path) -> list[Path]:
    """Run protoc on every .proto under federation/proto, writing packages under `out_dir`."""
    from grpc_tools import protoc  # dev dependency: only needed when regenerating

    protos = sorted(PROTO_DIR.glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{REPO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(REPO_ROOT)) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {[p.name for p in protos]}")
    return sorted((out_dir / "federation" / "proto").glob("*_pb2*.py*"))


def main() -> int:
    generated = generate(REPO_ROOT)
    print(f"generated {len(generated)} files in {PROTO_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
