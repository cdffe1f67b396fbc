"""RFC 8785 canonical JSON bytes, with a fast path for the documents consent and audit artefacts are made of.

The `rfc8785` package walks every value in Python; an audit leaf is a flat object of ASCII keys, strings
and small integers, for which the standard library's sorted, compact, non-ASCII-escaping `json.dumps`
writes the very same bytes (RFC 8785 escapes exactly `"`, `\\` and U+0000-U+001F, with the short forms
for \\b \\f \\n \\r \\t and lowercase `\\u00xx` otherwise, as `json` does). Anything else (floats, non-ASCII
keys whose UTF-16 order could differ, integers beyond 2^53 - 1) goes to `rfc8785`, which also raises its
errors for values that have no canonical form.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_SAFE_INTEGER = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether `value` is made only of what the fast path writes exactly as RFC 8785 does."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value, so that signer and verifier hash the very same bytes."""
    if _plain(value):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it with its own error
    return rfc8785.dumps(value)
