"""Run one benchmark: `python -m benchmarks NAME [options]`.

Each benchmark is a module `benchmarks/NAME.py` exposing `main(argv: list[str]) -> dict`. Progress goes
to stderr; the result dict is printed as ONE JSON object on the last line of stdout.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import benchmarks


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(f"usage: python -m benchmarks NAME [options]; NAME is one of {', '.join(available())}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in available():
        print(f"unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{name}")
    result = module.main(rest)
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
