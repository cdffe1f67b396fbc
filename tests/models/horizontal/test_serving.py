"""Serving a global model: single-applicant scoring, contributions, published files (ids, atomic publish)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.horizontal import (
    InvalidVariablesError,
    ModelIntegrityError,
    ServableModel,
    horizontal_model_id,
    public_training_summary,
    publish_model_file,
    read_published,
    write_model_file,
)
from models.horizontal.model_file import to_document
from tests.models.horizontal.synthetic import make_table
from tests.models.horizontal.tiny_models import logistic_model, xgboost_model


@pytest.fixture(scope="module")
def models():
    return {"logistic": logistic_model(), "xgboost": xgboost_model()}


def _applicant(model, row: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(model.feature_names, row, strict=True)}


@pytest.mark.parametrize("kind", ["logistic", "xgboost"])
def test_assessment_equals_predict_proba(models, kind):
    model = models[kind]
    rows = make_table(40, seed=9).features
    servable = ServableModel(model)
    expected = model.predict_proba(rows)
    for i, row in enumerate(rows):
        a = servable.assess(_applicant(model, row))
        assert a.probability_of_default == pytest.approx(float(expected[i]), abs=1e-12)
        assert 1 / (1 + math.exp(-a.log_odds_of_default)) == pytest.approx(a.probability_of_default, abs=1e-7)
        drivers = a.risk_drivers(4)
        assert all(a.contributions[d] > 0 for d in drivers)
        assert [a.contributions[d] for d in drivers] == sorted((a.contributions[d] for d in drivers), reverse=True)


def test_xgboost_contributions_add_up_to_the_margin(models):
    model = models["xgboost"]
    servable = ServableModel(model)
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(model.booster))
    for row in make_table(10, seed=10).features:
        a = servable.assess(_applicant(model, row))
        full = booster.predict(xgboost.DMatrix(row[None, :]), pred_contribs=True)[0]
        assert sum(a.contributions.values()) + full[-1] == pytest.approx(a.log_odds_of_default, abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=5, max_size=5))
def test_logistic_contributions_add_up_to_the_margin_against_the_mean_applicant(models, values):
    model = models["logistic"]
    servable = ServableModel(model)
    a = servable.assess(_applicant(model, np.array(values)))
    at_mean = servable.assess(_applicant(model, np.zeros(5)))
    assert sum(a.contributions.values()) == pytest.approx(a.log_odds_of_default - at_mean.log_odds_of_default,
                                                          abs=1e-6)
    assert all(v == 0 for v in at_mean.contributions.values())


def test_variables_that_do_not_fit_are_named_never_their_values(models):
    model = models["logistic"]
    servable = ServableModel(model)
    good = _applicant(model, np.full(5, 0.123456789))
    bad = {**{k: v for k, v in good.items() if k != "x1"}, "extra_var": 98765.4321, "x2": float("nan"),
           "x3": float("inf")}
    with pytest.raises(InvalidVariablesError) as caught:
        servable.assess(bad)
    err = caught.value
    assert (err.missing, err.unknown, err.not_finite) == (("x1",), ("extra_var",), ("x2", "x3"))
    assert "98765" not in str(err) and "0.1234" not in str(err)
    assert {"x1", "extra_var", "x2", "x3"} <= set(str(err).replace(",", " ").replace(";", " ").split())


def test_published_files_are_content_addressed_and_verified(tmp_path, models):
    source = tmp_path / "model.json"
    sha = write_model_file(models["logistic"], source)
    target = publish_model_file(source, tmp_path / "served")
    assert target.name == f"{horizontal_model_id(sha)}.json" == f"hz-m{sha[:16]}.json"
    assert target.read_bytes() == source.read_bytes()
    published = read_published(target)
    assert (published.model_id, published.model_version, published.kind) == (
        f"hz-m{sha[:16]}", f"v{sha[:12]}", "horizontal_logistic")

    renamed = target.with_name("hz-m0000000000000000.json")
    renamed.write_bytes(target.read_bytes())
    with pytest.raises(ModelIntegrityError):
        read_published(renamed)
    doc = json.loads(target.read_text())
    doc["weights"][0] += 0.5
    target.write_text(json.dumps(doc))
    with pytest.raises(ModelIntegrityError):
        read_published(target)
    with pytest.raises(ModelIntegrityError):  # nothing tampered is ever published
        publish_model_file(target, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists() or not list((tmp_path / "elsewhere").iterdir())


def test_publish_is_atomic_a_failed_rename_leaves_neither_a_partial_file_nor_a_temporary(tmp_path, models,
                                                                                      monkeypatch):
    source = tmp_path / "model.json"
    write_model_file(models["xgboost"], source)
    folder = tmp_path / "served"
    renames: list[tuple[str, str]] = []

    def crash(src, dst):
        renames.append((os.fspath(src), os.fspath(dst)))
        # What a reader would see at this instant: the target absent, only a hidden temporary present.
        assert not os.path.exists(dst)
        assert os.path.basename(src).startswith(".") and os.path.getsize(src) == source.stat().st_size
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        publish_model_file(source, folder)
    assert len(renames) == 1 and list(folder.iterdir()) == []


def test_the_public_training_summary_names_no_bank_and_no_loan_book_size(models):
    summary = public_training_summary(to_document(models["logistic"])["training"])
    assert summary == {"strategy": "fedavg", "aggregation": "ckks-sum", "rounds": 2, "banks": 2, "holdout_auc": 0.7}
    assert "bank-east" not in json.dumps(summary) and "123" not in json.dumps(summary)


def test_a_model_id_is_accepted_in_audit_leaves_even_when_its_hash_digits_are_all_decimal():
    from datetime import UTC, datetime

    from consent.audit import AuditEvent, EventKind

    model_id = horizontal_model_id("0123456789012345" + "a" * 48)
    event = AuditEvent(kind=EventKind.SCORE_SERVED, occurred_at=datetime(2026, 1, 1, tzinfo=UTC), use_id="use-a1",
                       institution="bank/pilot-bank1", model_id=f"{model_id}:v012345678901", purpose="PRE_LOAN_REVIEW",
                       subject_ref="ab" * 32, digests={"result": "cd" * 32})
    assert event.model_id.startswith("hz-m0123456789012345")
