"""Schemathesis against the API's own OpenAPI document, on the real app served by uvicorn (issue 20 item 4).

Every operation gets generated requests, valid and invalid, with the key of the role its path needs and with
no key. Each answer must be no 5xx, match the response schema the document declares for its status, and never
carry a traceback, a file path, or a string the request submitted (in an error). `XYD_FUZZ_EXAMPLES` raises the
number of examples per operation and mode (`make fuzz`); the default keeps this test to seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from tests.platform_node.world import ADMIN, BANK_A, COMPLIANCE, build_platform

EXAMPLES = int(os.environ.get("XYD_FUZZ_EXAMPLES", "3"))
_LEAKS = ("Traceback", 'File "', ".py\"", ".py:", "/work/", "/usr/", "/tmp/", "site-packages")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    platform = build_platform(tmp_path_factory.mktemp("fuzz"))
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        yield url, platform.keys
    finally:
        server.stop()
        platform.services.close()


def _submitted(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _submitted(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _submitted(item)


def _check_no_leak(spec_text: str, case: schemathesis.Case, response: httpx.Response) -> None:
    body = response.text
    assert not any(leak in body for leak in _LEAKS), f"{case.operation.label}: internal detail in {body[:300]!r}"
    if response.status_code < 400:
        return
    sent = [*_submitted(case.body if isinstance(case.body, dict | list | str) else None),
            *_submitted(dict(case.query or {})), *_submitted(dict(case.path_parameters or {}))]
    # A string the document itself contains (an enum value, a field name) may be named by the error.
    echoed = [s for s in sent if len(s) >= 6 and s.strip() and s not in spec_text and s in body]
    assert not echoed, f"{case.operation.label}: the error repeats submitted input {echoed[:3]!r}: {body[:300]!r}"


def _key_for(path: str, keys: dict[str, str]) -> str:
    if path.startswith("/v1/compliance"):
        return keys[COMPLIANCE]
    if path.startswith("/v1/admin"):
        return keys[ADMIN]
    return keys[BANK_A]


def _fuzz(http: httpx.Client, url: str, spec_text: str, operation: Any, mode: GenerationMode,
          headers: dict[str, str]) -> None:
    """Generated requests of one operation in one mode, each answer checked."""
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        request = case.as_transport_kwargs(base_url=url)
        # The credentials are ours alone: a generated Authorization header (the document's bearer scheme) goes.
        request["headers"] = {**{k: v for k, v in (request.get("headers") or {}).items()
                                 if k.lower() != "authorization"}, **headers}
        response = http.request(**{k: v for k, v in request.items()
                                   if k in ("method", "url", "headers", "params", "json", "content", "data")})
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        _check_no_leak(spec_text, case, response)

    fuzz()


@pytest.mark.parametrize("with_key", [True, False], ids=["with-key", "without-key"])
def test_no_operation_answers_5xx_off_schema_or_with_internal_detail(served, with_key: bool) -> None:
    url, keys = served
    spec = httpx.get(url + "/openapi.json", timeout=10).json()
    spec_text = json.dumps(spec)
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    failures: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            headers = {"Authorization": f"Bearer {_key_for(operation.path, keys)}"} if with_key else {}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(http, url, spec_text, operation, mode, headers)
                except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
                    continue
                except Exception as error:  # collect every operation's first failure, then report them all
                    failures.append(f"{operation.label} ({mode.value}): {error}"[:1500])
    assert not failures, "\n\n".join(failures)

