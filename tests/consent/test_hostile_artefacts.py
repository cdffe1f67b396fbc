"""Hostile consent artefacts (issue 20 item 4): random bytes, and valid artefacts mutated at any depth (a value
replaced by any JSON value, a key dropped or added, the signed payloads inside re-encoded), fed to every parser
of `consent/` and to the gate itself. Every refusal is a catalogue error (`XydError`), never a KeyError,
TypeError, UnicodeError or AttributeError, and its public text repeats none of the strings the mutation planted.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.audit import parse_note
from consent.audit.events import AuditEvent
from consent.audit.receipts import InclusionReceipt
from consent.authorisation import SignedRequest, parse_predicate
from consent.authorisation.answers import Answer
from consent.authorisation.codec import parse_canonical
from consent.authorisation.questions import question_from_json
from consent.authorisation.sealing import SealedAnswer
from consent.authorisation.signatures import SignedTerms
from consent.authorisation.status_source import SignedStatus
from consent.authorisation.terms import Terms
from consent.canonical_json import canonical_json
from errors import XydError
from tests.consent.test_authorisation_world import T0, World

EXAMPLES = int(os.environ.get("XYD_FUZZ_EXAMPLES", "30"))
MARK = "\u2042"  # every string the fuzzer plants starts with it: an error text containing it echoes input
_FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))

WORLD = World()
ARTEFACT = WORLD.active()
REQUEST = WORLD.request(ARTEFACT, parse_predicate("tax_paid_2025 >= 1000"))
SIGNED_JSON = json.loads(REQUEST.to_bytes())
TERMS_JSON = ARTEFACT.terms.to_json()

planted = st.text(max_size=20).map(lambda t: MARK + t)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60), st.floats(allow_nan=False), planted,
              st.sampled_from(["", "2025-01-01T00:00:00Z", "AAAA", "bank/icbc-sz", "auth-" + "0" * 64, "2025"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(planted, inner, max_size=3)),
    max_leaves=8)


@st.composite
def mutated(draw: Callable, document: Any, depth: int = 0) -> Any:
    """`document` with one random change somewhere below it (or itself replaced)."""
    if depth > 6 or not isinstance(document, dict | list) or draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    if isinstance(document, list):
        if not document:
            return [draw(json_values)]
        at = draw(st.integers(0, len(document) - 1))
        return [draw(mutated(item, depth + 1)) if i == at else item for i, item in enumerate(document)]
    keys = sorted(document)
    action = draw(st.integers(0, 3))
    if action == 0 and keys:
        drop = draw(st.sampled_from(keys))
        return {k: v for k, v in document.items() if k != drop}
    if action == 1:
        return {**document, draw(planted): draw(json_values)}
    key = draw(st.sampled_from(keys)) if keys else draw(planted)
    return {**document, key: draw(mutated(document.get(key), depth + 1))}


def _encoded(document: Any) -> bytes:
    """Canonical bytes where the value has them; else plain JSON (which the parsers must refuse)."""
    try:
        return canonical_json(document)
    except Exception:  # beyond the safe integers, or a lone surrogate
        return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _b64_payload(document: Any) -> str:
    return base64.b64encode(_encoded(document) if not isinstance(document, str) else
                            document.encode("utf-8", "surrogatepass")).decode()


@st.composite
def hostile_requests(draw: Callable) -> bytes:
    """A signed request with its own payload, the artefact's payload or the outer object mutated."""
    outer = json.loads(json.dumps(SIGNED_JSON))
    where = draw(st.sampled_from(["outer", "request", "terms"]))
    if where == "request":
        inner = parse_canonical(base64.b64decode(outer["payload"]))
        outer["payload"] = _b64_payload(draw(mutated(inner)))
    elif where == "terms":
        inner = parse_canonical(base64.b64decode(outer["artefact"]["payload"]))
        outer["artefact"]["payload"] = _b64_payload(draw(mutated(inner)))
    else:
        outer = draw(mutated(outer))
    return _encoded(outer)


def _refused_cleanly(parse: Callable[[], object]) -> None:
    try:
        parse()
    except XydError as error:
        assert MARK not in error.public_message, f"{type(error).__name__} repeats planted input: {error.public_message!r}"
    # Any other exception type fails the test: hypothesis reports it with the input that caused it.


@_FUZZ
@given(data=hostile_requests())
def test_hostile_signed_requests_are_refused_by_the_parsers_and_the_gate(data: bytes) -> None:
    def through_the_gate() -> None:
        signed = SignedRequest.from_bytes(data)
        signed.parse()
        signed.artefact.check_shape()
        WORLD.gate.check(signed, now=T0 + timedelta(seconds=1))

    _refused_cleanly(through_the_gate)


@_FUZZ
@given(document=mutated(TERMS_JSON))
def test_hostile_terms_and_signed_terms_are_refused_with_catalogue_errors(document: Any) -> None:
    _refused_cleanly(lambda: Terms.from_json(document))
    payload = _b64_payload(document) if not isinstance(document, str) else document
    _refused_cleanly(lambda: SignedTerms.from_json({"payload": payload, "signature": "AAAA"}).check_shape())
    _refused_cleanly(lambda: SignedTerms.from_json(document if isinstance(document, dict) else {}).check_shape())


@_FUZZ
@given(data=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
       document=json_values)
def test_every_other_artefact_parser_refuses_garbage_with_catalogue_errors(data: bytes, document: Any) -> None:
    obj = document if isinstance(document, dict) else {"value": document}
    for parse in (lambda: parse_canonical(data), lambda: SignedRequest.from_bytes(data),
                  lambda: SealedAnswer.from_bytes(data), lambda: InclusionReceipt.from_json(data),
                  lambda: parse_note(data), lambda: AuditEvent.from_leaf(data),
                  lambda: SignedStatus.from_json(obj), lambda: Answer.from_json(obj),
                  lambda: question_from_json(obj), lambda: SignedTerms.from_json(obj).check_shape(),
                  lambda: SignedRequest.from_json(obj).parse(), lambda: SealedAnswer.from_json(obj)):
        _refused_cleanly(parse)


@_FUZZ
@given(text=st.one_of(st.text(max_size=80), planted.map(lambda t: "tax_paid_2025 >= " + t)))
def test_hostile_predicates_are_refused_with_catalogue_errors(text: str) -> None:
    _refused_cleanly(lambda: parse_predicate(text))


def test_the_unmutated_request_passes_the_gate() -> None:
    """The mutations start from a request the gate accepts, so a refusal above is the mutation's doing."""
    fresh = WORLD.request(ARTEFACT, parse_predicate("tax_paid_2025 >= 1000"))  # same shape, a nonce of its own
    assert json.loads(fresh.to_bytes()).keys() == SIGNED_JSON.keys()
    assert WORLD.gate.check(SignedRequest.from_bytes(fresh.to_bytes()), now=T0 + timedelta(seconds=1))
