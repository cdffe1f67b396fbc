"""The shape of the tree, kept by a test: each package may import only the packages below it.

Layers, bottom up (docs/ARCHITECTURE.md, "Packages"):
    errors (the catalogue)  ->  consent, tables, federation (the wire), webconsole (the consoles' shared pages)  ->  models (algorithms)  ->  jobspec (job vocabulary)
    ->  bank_federation, coordinator, source_node, platform_node (roles)  ->  cli (people's tools)
    ->  sandbox (local federation, demo)  ->  benchmarks.
Roles never import each other; algorithms and consent know nothing of gRPC or HTTP; tests never import
`benchmarks` (a benchmark is a program: tests run it as one).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLES = {"coordinator", "source_node", "platform_node", "bank_federation"}
NETWORK = {"grpc", "grpc_health", "fastapi", "uvicorn", "starlette", "httpx", "requests", "flwr"}

# What each package may import of the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "consent": {"errors"},
    "federation": {"errors"},
    "webconsole": {"errors"},
    "tables": {"errors", "consent", "federation"},
    "models": {"errors", "federation"},
    "jobspec": {"errors", "federation", "models"},
    **{role: {"errors", "consent", "tables", "federation", "models", "jobspec", "webconsole"} for role in ROLES},
    "cli": {"errors", "consent", "tables", "federation", "models", "jobspec"},
    "sandbox": {"errors", "consent", "tables", "federation", "models", "jobspec", "webconsole", "cli", *ROLES},
    "benchmarks": {"errors", "consent", "tables", "federation", "models", "jobspec", "webconsole", "cli", "sandbox",
                   *ROLES},
}
PROJECT = set(ALLOWED) | {"tests"}
# What the transport-free packages may take from federation: the channel interface, protobuf messages (not
# their gRPC stubs), node config (with the [compute] table and joining the party's Ray cluster) and schema messages.
FEDERATION_FOR_TRANSPORT_FREE = ("federation.channel", "federation.config", "federation.compute",
                                 "federation.schema_message", "federation.proto")


@cache
def imports_of(package: str) -> tuple[tuple[Path, str], ...]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "_pb2" in path.name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(path, node.module)] + [(path, f"{node.module}.{a.name}") for a in node.names]
    return tuple(found)


def _top(name: str) -> str:
    return name.split(".")[0]


def test_every_project_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= PROJECT, f"packages without a layer in this test: {sorted(packages - PROJECT)}"


def upward(package: str, imports: tuple[tuple[Path, str], ...]) -> list[str]:
    """The imports of `package` that reach a project package not below it."""
    return sorted({f"{p.relative_to(ROOT)} imports {n}" for p, n in imports
                   if _top(n) in PROJECT and _top(n) != package and _top(n) not in ALLOWED[package]})


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_is_below_them(package: str) -> None:
    bad = upward(package, imports_of(package))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["errors", "models", "consent", "tables", "jobspec"])
def test_transport_free_packages(package: str) -> None:
    bad = []
    for path, name in imports_of(package):
        top = _top(name)
        if top in NETWORK:
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
        elif top == "federation" and name not in {"federation", "federation.proto"}:
            allowed = name.startswith(FEDERATION_FOR_TRANSPORT_FREE) and "_grpc" not in name
            if package == "jobspec":  # jobspec dispatches stage handlers: the task types too
                allowed = allowed or name.startswith("federation.tasks")
            if not allowed:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_tests_never_import_benchmarks() -> None:
    bad = [f"{p.relative_to(ROOT)} imports {n}" for p, n in imports_of("tests") if _top(n) == "benchmarks"]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("package", "name"), [("federation", "platform_node.node"), ("federation", "models.he"),
                                             ("source_node", "platform_node.scoring"), ("platform_node", "cli.main"),
                                             ("coordinator", "sandbox.launcher"), ("models", "jobspec")])
def test_the_contract_catches_an_upward_import(package: str, name: str) -> None:
    assert upward(package, ((ROOT / package / "x.py", name),)) == [f"{package}/x.py imports {name}"]
