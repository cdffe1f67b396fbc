"""Real HTTP: a bank scores with a horizontal (banks') model by sending its applicant's variables; the
platform lists what it serves, refuses what does not fit, records the use like any score, keeps no value."""

from __future__ import annotations

import json
import logging
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from models.horizontal import GlobalModel, write_model_file
from models.horizontal.published import publish_model_file
from platform_node.api.app import create_app
from platform_node.api.server import ApiServer
from platform_node.api.settings import ApiSettings
from platform_node.scoring.scorer import grade_of
from tests.models.horizontal.tiny_models import logistic_model, xgboost_model
from tests.platform_node.world import BANK_A, BANK_B, COMPLIANCE, Platform, build_platform

CODE = "91330105MARQ283F4K"
# Values recognisable if they ever leaked into a response, a log line or a stored row.
SECRET_VALUES = (1.2345678901, -2.3456789012, 0.87654321098, 3.1415926535, -0.5772156649)


@dataclass
class HzLive:
    platform: Platform
    http: httpx.Client
    folder: Path
    db: Path

    def as_(self, institution: str) -> dict[str, str]:
        return self.platform.headers(institution)

    def publish(self, model: GlobalModel, tmp: Path) -> str:
        source = tmp / f"{model.kind}-trained.json"
        write_model_file(model, source)
        return publish_model_file(source, self.folder).stem

    def score(self, model_id: str, variables: dict[str, float], who: str = BANK_A, code: str = CODE):
        return self.http.post(f"/v1/models/{model_id}/scores", headers=self.as_(who), json={
            "purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-HZ-1", "credit_code": code,
            "variables": variables})


@pytest.fixture(scope="module")
def trained() -> dict[str, GlobalModel]:
    return {"logistic": logistic_model(), "xgboost": xgboost_model()}


@pytest.fixture
def hz(tmp_path: Path) -> Iterator[HzLive]:
    db = tmp_path / "platform.db"
    folder = tmp_path / "horizontal"
    settings = ApiSettings(database_url=f"sqlite:///{db}", allow_insecure_webhooks_for_tests=True, webhook_timeout_s=2.0,
                           horizontal_models_dir=folder)
    platform = build_platform(tmp_path, settings=settings)
    server = ApiServer(create_app(platform.services))
    url = server.start()
    try:
        with httpx.Client(base_url=url, timeout=10.0) as http:
            yield HzLive(platform, http, folder, db)
    finally:
        server.stop()
        platform.services.close()


def _variables(model: GlobalModel, row) -> dict[str, float]:
    return {n: float(v) for n, v in zip(model.feature_names, row, strict=True)}


@pytest.mark.parametrize("kind", ["logistic", "xgboost"])
def test_scores_equal_the_global_models_predictions_and_the_use_is_recorded(hz: HzLive, trained, tmp_path, kind):
    model = trained[kind]
    model_id = hz.publish(model, tmp_path)  # published while the API runs: no restart
    rows = np.random.default_rng(3).normal(size=(4, 5))
    expected = model.predict_proba(rows)
    for i, row in enumerate(rows):
        reply = hz.score(model_id, _variables(model, row))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["probability_of_default"] == pytest.approx(float(expected[i]), abs=1e-12)
        assert body["grade"] == grade_of(body["score"]) and body["model_id"] == model_id
        assert set(body["reason_codes"]) <= set(model.feature_names) and len(body["reason_codes"]) <= 4
        assert body["audit"]["leaf_index"] >= 0 and body["feedback_due_at"]
        use = hz.http.get(f"/v1/uses/{body['use_id']}", headers=hz.as_(BANK_A))
        assert use.status_code == 200 and use.json()["model_id"] == model_id
        assert use.json()["probability_of_default"] == body["probability_of_default"]
        assert hz.http.get(f"/v1/uses/{body['use_id']}", headers=hz.as_(BANK_B)).status_code == 404
    feedback = hz.http.post(f"/v1/uses/{body['use_id']}/feedback", headers=hz.as_(BANK_A), json={
        "type": "decision", "decision": "DECLINED"})
    assert feedback.status_code == 201, feedback.text


def test_models_list_shows_the_joint_model_and_each_horizontal_one(hz: HzLive, trained, tmp_path):
    ids = {kind: hz.publish(model, tmp_path) for kind, model in trained.items()}
    reply = hz.http.get("/v1/models", headers=hz.as_(COMPLIANCE))  # any authenticated institution
    assert reply.status_code == 200
    items = {m["model_id"]: m for m in reply.json()["items"]}
    assert items["scorecard-test"] == {"model_id": "scorecard-test", "model_version": "3", "kind": "joint"}
    for kind, model_id in ids.items():
        entry = items[model_id]
        assert entry["kind"] == f"horizontal_{kind}" and entry["variables"] == list(trained[kind].feature_names)
        assert entry["training"]["banks"] == 2 and "bank-east" not in json.dumps(entry)
    assert hz.http.get("/v1/models").status_code == 401


def test_unknown_model_and_variables_that_do_not_fit_are_refused_by_name(hz: HzLive, trained, tmp_path):
    model = trained["logistic"]
    model_id = hz.publish(model, tmp_path)
    good = _variables(model, SECRET_VALUES)
    unknown = hz.score("hz-m0123456789abcdef", good)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "UNKNOWN_MODEL")

    missing = hz.score(model_id, {k: v for k, v in good.items() if k != "x4"})
    extra = hz.score(model_id, {**good, "x9": 0.25})
    assert (missing.status_code, missing.json()["code"]) == (422, "INVALID_VARIABLES")
    assert missing.json()["errors"] == [{"field": "body.variables.x4", "message": "missing"}]
    assert (extra.status_code, extra.json()["errors"]) == (
        422, [{"field": "body.variables", "message": "1 name(s) not among this model's variables"}])
    assert "x9" not in extra.text  # a name the bank sent that the model lacks is counted, not echoed
    content = json.dumps({"purpose": "PRE_LOAN_REVIEW", "loan_application_ref": "LA-1", "credit_code": CODE,
                          "variables": {"x0": float("nan"), "x1": float("inf"), "x2": 1, "x3": 2, "x4": 3}})
    assert "NaN" in content and "Infinity" in content  # what a JSON encoder that allows them sends
    not_finite = hz.http.post(f"/v1/models/{model_id}/scores", content=content,
                              headers={**hz.as_(BANK_A), "Content-Type": "application/json"})
    assert not_finite.status_code == 422 and not_finite.json()["code"] == "INVALID_VARIABLES"
    assert [e["field"] for e in not_finite.json()["errors"]] == ["body.variables.x0", "body.variables.x1"]
    as_text = hz.score(model_id, {**good, "x0": "1.5"})
    bad_code = hz.score(model_id, good, code="91330105MARQ283F4X")
    assert (as_text.status_code, as_text.json()["code"]) == (422, "INVALID_REQUEST")
    assert (bad_code.status_code, bad_code.json()["code"]) == (422, "INVALID_REQUEST")
    for reply in (missing, extra, not_finite, as_text):
        assert not any(repr(v)[:7] in reply.text for v in SECRET_VALUES)
    assert hz.http.get("/v1/uses", headers=hz.as_(BANK_A)).json()["items"] == []  # nothing refused was recorded


def test_a_tampered_file_is_not_served(hz: HzLive, trained, tmp_path, caplog):
    model_id = hz.publish(trained["logistic"], tmp_path)
    path = hz.folder / f"{model_id}.json"
    doc = json.loads(path.read_text())
    doc["weights"][0] += 1.0
    with caplog.at_level(logging.WARNING):
        path.write_text(json.dumps(doc))
        listed = hz.http.get("/v1/models", headers=hz.as_(BANK_A)).json()["items"]
        reply = hz.score(model_id, _variables(trained["logistic"], SECRET_VALUES))
    assert model_id not in {m["model_id"] for m in listed}
    assert (reply.status_code, reply.json()["code"]) == (404, "UNKNOWN_MODEL")
    assert any(r.getMessage() == "horizontal model file refused" and r.file == path.name for r in caplog.records)


def _leak_forms(value: float) -> tuple[list[str], list[bytes]]:
    texts = [repr(value), f"{value:.6g}", f"{value:.5f}"]
    return texts, [t.encode() for t in texts] + [struct.pack(">d", value), struct.pack("<d", value)]


def test_no_variable_value_reaches_a_log_line_or_a_stored_row(hz: HzLive, trained, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG):
        for model in trained.values():
            model_id = hz.publish(model, tmp_path)
            reply = hz.score(model_id, _variables(model, SECRET_VALUES))
            assert reply.status_code == 200, reply.text
            hz.score(model_id, {**_variables(model, SECRET_VALUES), "x9": SECRET_VALUES[0]})  # a refused one too
        texts = [reply.text, hz.http.get("/v1/compliance/uses", headers=hz.as_(COMPLIANCE)).text,
                 hz.http.get("/v1/compliance/audit/leaves", headers=hz.as_(COMPLIANCE)).text]
    logged = [json.dumps({**vars(r), "msg": r.getMessage()}, default=str) for r in caplog.records]
    assert sum("score served" in line for line in logged) == 2
    with sqlite3.connect(hz.db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]
    assert any("hz-" in row for row in rows)  # the uses were stored, with their model id
    raw = b"".join(p.read_bytes() for p in hz.db.parent.glob(f"{hz.db.name}*"))
    for value in SECRET_VALUES:
        texts_forms, byte_forms = _leak_forms(value)
        for text in texts + logged + rows:
            assert not any(form in text for form in texts_forms), (value, text[:200])
        assert not any(form in raw for form in byte_forms), value
    assert all(CODE not in line for line in logged)
