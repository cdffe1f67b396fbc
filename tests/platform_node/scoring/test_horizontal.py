"""The platform's folder of horizontal models: served as published, re-verified on change, tampering refused."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from models.horizontal import write_model_file
from models.horizontal.published import publish_model_file
from models.scorecard.params import ScorecardParams
from platform_node.scoring.horizontal import HorizontalScorer, UnknownModel, reason_token
from platform_node.scoring.scorer import grade_of
from tests.models.horizontal.tiny_models import logistic_model, xgboost_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    out = {}
    for model in (logistic_model(), xgboost_model()):
        path = folder / f"{model.kind}.json"
        write_model_file(model, path)
        out[model.kind] = (model, path)
    return out


def _variables(model, row) -> dict[str, float]:
    return {n: float(v) for n, v in zip(model.feature_names, row, strict=True)}


def test_a_model_published_while_serving_is_served_at_once_and_scores_on_the_joint_scale(tmp_path, files):
    scorer = HorizontalScorer(tmp_path / "served")  # the folder does not exist yet
    assert scorer.models() == []
    model, path = files["logistic"]
    target = publish_model_file(path, tmp_path / "served")
    [served] = scorer.models()
    assert served.model_id == target.stem
    row = np.array([1.5, -2.0, 0.7, 0.1, -0.3])
    outcome = scorer.score(served.model_id, "91330105MARQ283F4K", _variables(model, row))
    pd = float(model.predict_proba(row[None, :])[0])
    assert outcome.probability_of_default == pytest.approx(pd, abs=1e-12)
    expected_score = int(round(ScorecardParams().score(-np.log(pd / (1 - pd)))))
    assert outcome.score == expected_score and outcome.grade == grade_of(expected_score)
    assert (outcome.model_id, outcome.model_version) == (served.model_id, served.published.model_version)
    assert set(outcome.reason_codes) <= set(model.feature_names) and 1 <= len(outcome.reason_codes) <= 4


def test_tampered_renamed_or_removed_files_are_not_served(tmp_path, files, caplog):
    folder = tmp_path / "served"
    xgb_target = publish_model_file(files["xgboost"][1], folder)
    lr_target = publish_model_file(files["logistic"][1], folder)
    scorer = HorizontalScorer(folder)
    assert [m.model_id for m in scorer.models()] == sorted([xgb_target.stem, lr_target.stem])

    doc = json.loads(lr_target.read_text())
    doc["weights"][3] += 0.5
    with caplog.at_level(logging.WARNING, logger="xyd.platform.scoring"):
        lr_target.write_text(json.dumps(doc))  # altered in place, after being served
        (folder / "hz-m00000000000000ff.json").write_bytes(xgb_target.read_bytes())  # a copy under a false id
        assert [m.model_id for m in scorer.models()] == [xgb_target.stem]
        scorer.models()  # a refused file is logged once per version, not on every scan
    refused = [r for r in caplog.records if r.getMessage() == "horizontal model file refused"]
    assert sorted(r.file for r in refused) == sorted([lr_target.name, "hz-m00000000000000ff.json"])
    with pytest.raises(UnknownModel):
        scorer.get(lr_target.stem)

    xgb_target.unlink()
    assert scorer.models() == []
    publish_model_file(files["logistic"][1], folder)  # the genuine file again: served again
    assert [m.model_id for m in scorer.models()] == [lr_target.stem]


def test_an_edit_that_keeps_mtime_and_size_is_still_caught(tmp_path, files):
    target = publish_model_file(files["logistic"][1], tmp_path)
    scorer = HorizontalScorer(tmp_path)
    assert [m.model_id for m in scorer.models()] == [target.stem]
    before = target.stat()
    text = target.read_text()
    digit = text.index('"created_at": "') + len('"created_at": "') + 3  # the year's last digit
    target.write_text(text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:])
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime, size and inode as verified
    assert target.stat().st_size == before.st_size and target.stat().st_ino == before.st_ino
    assert scorer.models() == []  # verified less than RACY_NS ago: verified again


def test_a_scorer_without_a_folder_serves_nothing():
    scorer = HorizontalScorer(None)
    assert scorer.models() == []
    with pytest.raises(UnknownModel):
        scorer.score("hz-0123456789abcdef", "91330105MARQ283F4K", {})


@pytest.mark.parametrize("name,token", [("x0", "x0"), ("Tax Paid (CNY)", "tax_paid_cny"), ("2024_revenue", "v_2024_revenue"),
                                        ("___", "v_"), ("a" * 80, "a" * 64)])
def test_variable_names_become_reason_tokens(name, token):
    assert reason_token(name) == token
