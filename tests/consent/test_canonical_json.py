"""The fast path of `canonical_json` writes exactly what the rfc8785 package writes, or defers to it."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.canonical_json import canonical_json

ascii_keys = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=8)
texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(["\x00", "\x1f", "\x7f", "\u2028", "\\", '"'])
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_keys, inner, max_size=5),
                         max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_plain_documents_encode_exactly_as_rfc8785(document) -> None:
    assert canonical_json(document) == rfc8785.dumps(document)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.floats(allow_nan=False, allow_infinity=False) | texts, max_size=5))
def test_floats_and_any_keys_are_left_to_rfc8785(document) -> None:
    assert canonical_json(document) == rfc8785.dumps(document)


@pytest.mark.parametrize("bad", [{"a": 2**53}, {"a": "\ud800"}, {"a": float("nan")}])
def test_values_without_a_canonical_form_are_refused_as_rfc8785_refuses_them(bad) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json(bad)
