"""Render docs/API.md from the app's OpenAPI document, and check that the committed file is current.

    python -m platform_node.api.openapi_doc            # rewrite docs/API.md
    python -m platform_node.api.openapi_doc --check    # exit 1 if docs/API.md is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from platform_node.api.app import create_app

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "API.md"
_METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: Mapping[str, Any]) -> str:
    """A short human-readable type of a JSON schema (references by name, `| null` for optional)."""
    if "$ref" in schema:
        return f"[{_ref_name(schema['$ref'])}](#{_ref_name(schema['$ref']).lower()})"
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(type_of(s) for s in schema[key])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_of(schema["allOf"][0])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    return str(kind or "any")


def _cell(text: Any) -> str:
    return str(text or "").replace("\n", " ").replace("|", "\\|").strip()


def _constraints(schema: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
                       ("minLength", "min length"), ("maxLength", "max length"), ("minItems", "min items"),
                       ("maxItems", "max items"), ("pattern", "pattern")):
        if key in schema:
            value = f"`{schema[key]}`" if key == "pattern" else schema[key]
            parts.append(f"{label} {value}")
    return "; ".join(parts)


def _operation(lines: list[str], path: str, method: str, op: Mapping[str, Any]) -> None:
    lines.append(f"### `{method.upper()} {path}`: {op.get('summary', '')}")
    lines.append("")
    if op.get("description"):
        lines += [" ".join(op["description"].split()), ""]
    if op.get("security"):
        lines += ["Authentication: bearer API key.", ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            description = p.get("description") or schema.get("description", "")
            lines.append(f"| `{p['name']}` | {p['in']} | {_cell(type_of(schema))} | {'yes' if p.get('required') else 'no'} "
                         f"| {_cell(description)} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        schema = body.get("content", {}).get("application/json", {}).get("schema", {})
        lines += [f"Request body (JSON): {type_of(schema)}", ""]
    lines += ["| status | body | meaning |", "|---|---|---|"]
    for status, response in sorted(op.get("responses", {}).items()):
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        lines.append(f"| {status} | {_cell(type_of(schema)) if schema else '-'} | {_cell(response.get('description'))} |")
    lines.append("")


def _schema(lines: list[str], name: str, schema: Mapping[str, Any]) -> None:
    lines.append(f"### {name}")
    lines.append("")
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    properties = schema.get("properties")
    if not properties:
        lines += [f"Type: {type_of(schema)}", ""]
        return
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, spec in properties.items():
        limits = _constraints(spec)
        notes = spec.get("description", "") + (f" ({limits})" if limits else "")
        lines.append(f"| `{field}` | {_cell(type_of(spec))} | {'yes' if field in required else 'no'} | {_cell(notes)} |")
    lines.append("")


def render(spec: Mapping[str, Any]) -> str:
    """The Markdown reference of an OpenAPI document (deterministic: same spec, same bytes)."""
    info = spec["info"]
    lines = [
        f"# {info['title']} {info['version']}",
        "",
        "<!-- Generated from the OpenAPI spec by `python -m platform_node.api.openapi_doc`; do not edit. -->",
        "",
        info.get("description", "").strip(),
        "",
        "The machine-readable spec is served at `/openapi.json`; there is no `/docs` page (it would load scripts from a public CDN).",
        "",
        "## Endpoints",
        "",
    ]
    tags = [t["name"] for t in spec.get("tags", [])]
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {t: [] for t in tags}
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, item[method]))
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    for tag, operations in by_tag.items():
        if not operations:
            continue
        lines += [f"## {tag[0].upper()}{tag[1:]}", ""]
        if descriptions.get(tag):
            lines += [descriptions[tag], ""]
        for path, method, op in operations:
            _operation(lines, path, method, op)
    lines += ["## Schemas", ""]
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        _schema(lines, name, schema)
    return "\n".join(lines).rstrip() + "\n"


def current_markdown() -> str:
    return render(create_app().openapi())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the spec")
    args = parser.parse_args(argv)
    text = current_markdown()
    if args.check:
        existing = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if existing != text:
            print(f"{args.output} is stale: run python -m platform_node.api.openapi_doc", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
