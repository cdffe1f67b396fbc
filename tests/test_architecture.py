"""Dependencies point one way: algorithms and consent know nothing of gRPC/HTTP; roles never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLES = {"coordinator", "source_node", "platform_node"}
NETWORK = {"grpc", "grpc_health", "fastapi", "uvicorn", "starlette", "httpx", "requests"}
# What the transport-free packages may take from federation: the channel interface and protobuf messages.
FEDERATION_ALLOWED = ("federation.channel", "federation.config", "federation.schema_message")


def imports_of(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(path, node.module)] + [(path, f"{node.module}.{a.name}") for a in node.names]
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("package", ["models", "consent", "tables"])
def test_transport_free_packages(package: str) -> None:
    bad = []
    for path, name in imports_of(package):
        top = _top(name)
        if top in NETWORK or top in ROLES:
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
        elif top == "federation":
            ok = name.startswith(FEDERATION_ALLOWED) or (name.startswith("federation.proto") and "_grpc" not in name)
            if name in {"federation", "federation.proto"}:
                ok = True
            if not ok:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", sorted(ROLES | {"federation", "tables"}))
def test_roles_never_import_other_roles(package: str) -> None:
    others = ROLES - {package}
    bad = [f"{p.relative_to(ROOT)} imports {n}" for p, n in imports_of(package) if _top(n) in others]
    assert not bad, "\n".join(bad)
