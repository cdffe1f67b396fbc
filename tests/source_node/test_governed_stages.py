"""Stage handlers under approval, in one process over the in-memory hub: refusals carry their code, a task
loads only approved shared columns (the messages to the platform are the same with or without the others in
the table), and a revocation ends training at the next message."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from consent.governance import ApprovalStatus, RefusalCode
from federation.tasks import TaskFailed
from sandbox.synthdata import generate
from tables import load_table
from tests.consent.governance_world import T0
from tests.source_node.governed_job import (
    NOT_SHARED,
    PLATFORM,
    TAX,
    UNAPPROVED,
    GovernedSource,
    approval_terms,
    job,
    load_tax,
    platform_handlers,
    run_stage,
    write_tax_without,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("governed-data")
    generate(300, 11, folder)
    return folder


def approved_items(source: GovernedSource) -> tuple[str, ...]:
    return tuple(c for c in source.table.schema.column_names if c not in (NOT_SHARED, UNAPPROVED))


def run_job(spec, source: GovernedSource, data: Path, root: Path, *, wire: list | None = None,
            tap=None) -> dict[str, object]:
    platform = load_table(data / "platform.toml", data / "platform.csv")
    handlers = {PLATFORM: platform_handlers(platform), TAX: source.handlers()}
    outcomes = {}
    for stage in spec.stages:
        outcome = run_stage(spec, stage, handlers, root, wire=wire if stage == "train" else None, tap=tap)
        outcomes[stage] = outcome
        if outcome.errors:
            break
    return outcomes


def code_of(outcomes, party: str = TAX) -> str:
    last = list(outcomes.values())[-1]
    error = last.errors[party]
    assert isinstance(error, TaskFailed), error
    return error.code


def test_a_job_runs_only_under_an_approval_and_names_it_in_its_results(data: Path, tmp_path: Path) -> None:
    source = GovernedSource(load_tax(data), tmp_path / "gov")
    assert code_of(run_job(job(), source, data, tmp_path / "a")) == RefusalCode.APPROVAL_MISSING
    approval_id = source.approve(approval_terms(approved_items(source)))
    outcomes = run_job(job(), source, data, tmp_path / "b")
    assert all(not o.errors for o in outcomes.values())
    train = outcomes["train"].results[TAX]
    assert train["approval_id"] == approval_id
    assert NOT_SHARED not in train["items"] and UNAPPROVED not in train["items"] and "a_level_taxpayer" in train["items"]
    assert train["rows_used"] > 0 and outcomes["psi"].results[TAX]["rows_used"] == len(source.table)
    published = outcomes["publish"].results[TAX]
    record = (tmp_path / "b" / "source-tax" / "models" / published["model_id"] / "approval.json").read_text()
    assert approval_id in record
    # PSI reads the id column, training the shared rows; publishing reads none.
    assert source.store.used(approval_id)["rows"] == len(source.table) + train["rows_used"]


def test_a_job_asking_for_an_unapproved_or_not_shared_item_is_refused(data: Path, tmp_path: Path) -> None:
    source = GovernedSource(load_tax(data), tmp_path / "gov")
    source.approve(approval_terms(approved_items(source)))
    refused = run_job(job(items=f'"revenue_12m_cny", "{UNAPPROVED}"'), source, data, tmp_path / "a")
    assert list(refused) == ["psi"] and code_of(refused) == RefusalCode.ITEM_NOT_APPROVED
    refused = run_job(job(items=f'"{NOT_SHARED}"'), source, data, tmp_path / "b")
    assert code_of(refused) == RefusalCode.ITEM_NOT_SHARED
    assert "refused the psi stage" in str(refused["psi"].errors[TAX])
    assert source.store.used(source.store.list()[0].approval_id)["rows"] == 0
    chosen = run_job(job(items='"revenue_12m_cny", "vat_paid_12m_cny"'), source, data, tmp_path / "c")
    assert chosen["train"].results[TAX]["items"] == ["revenue_12m_cny", "vat_paid_12m_cny"]


def test_another_project_or_leader_is_refused(data: Path, tmp_path: Path) -> None:
    source = GovernedSource(load_tax(data), tmp_path / "gov")
    source.approve(approval_terms(approved_items(source)))
    assert code_of(run_job(job(project="other"), source, data, tmp_path / "a")) == RefusalCode.APPROVAL_MISSING
    assert code_of(run_job(job(project=None), source, data, tmp_path / "b")) == RefusalCode.APPROVAL_MISSING
    # The insider attack: a job led by another source node (as a coordinator's certificate could dispatch).
    spec = job()
    params = spec.stage_params("psi") | {"active": "source/social_insurance"}
    from federation.channel import InMemoryHub
    from federation.tasks import TaskContext

    hub = InMemoryHub((TAX, "source/social_insurance"))
    work = tmp_path / "c"
    work.mkdir()
    ctx = TaskContext("job-x", "psi", params, hub.channel(TAX), {TAX: "", "source/social_insurance": ""}, work)
    with pytest.raises(TaskFailed) as caught:
        source.handlers()["psi"](ctx)
    assert caught.value.code == RefusalCode.LEADER_NOT_APPROVED and hub.wire == []


def test_excluded_columns_shape_no_message(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training with the not_shared and the unapproved column in the table, and without them in the file at
    all, sends the very same messages to the platform."""
    # The passive party's split-id key is its only randomness with encryption off: fixed, two runs compare.
    monkeypatch.setattr("models.secureboost.passive.secrets", SimpleNamespace(token_bytes=lambda n: b"k" * n))
    full = GovernedSource(load_tax(data), tmp_path / "gov-full")
    schema, table = write_tax_without(data, (NOT_SHARED, UNAPPROVED), tmp_path / "slim-data")
    slim = GovernedSource(load_table(schema, table), tmp_path / "gov-slim")
    assert NOT_SHARED in full.table.schema.column_names and NOT_SHARED not in slim.table.schema.column_names
    for source in (full, slim):
        source.approve(approval_terms(approved_items(full)))
    wires: list[list] = [[], []]
    for k, source in enumerate((full, slim)):
        outcomes = run_job(job(trees=3), source, data, tmp_path / f"run-{k}", wire=wires[k])
        assert all(not o.errors for o in outcomes.values())
    to_platform = [[(tag, payload) for sender, receiver, tag, payload in wire if sender == TAX] for wire in wires]
    assert len(to_platform[0]) > 10 and to_platform[0] == to_platform[1]
    # The control: approving the extra conditional column changes what the platform receives.
    wider = GovernedSource(load_tax(data), tmp_path / "gov-wide")
    wider.approve(approval_terms(approved_items(full) + (UNAPPROVED,)))
    wide_wire: list = []
    run_job(job(trees=3), wider, data, tmp_path / "run-wide", wire=wide_wire)
    assert [(t, p) for s, _, t, p in wide_wire if s == TAX] != to_platform[0]


def test_a_revocation_ends_training_at_the_next_message(data: Path, tmp_path: Path) -> None:
    source = GovernedSource(load_tax(data), tmp_path / "gov")
    approval_id = source.approve(approval_terms(approved_items(source)))
    sent_after: list[str] = []
    revoked = []

    def tap(sender: str, receiver: str, tag: str, payload: bytes) -> None:
        if sender != TAX or not tag.startswith("train/"):
            return
        if revoked:
            sent_after.append(tag)
        elif "histograms" in tag or "hist" in tag:
            # The source unit's administrator revokes while tree 1 is being built.
            source.store.transition(approval_id, ApprovalStatus.REVOKED, actor="admin/tax", reason="stop", now=T0)
            revoked.append(tag)

    outcomes = run_job(job(trees=5), source, data, tmp_path / "run", tap=tap)
    assert revoked, "no histogram message was seen"
    assert code_of(outcomes) == RefusalCode.APPROVAL_REVOKED and sent_after == []
    assert PLATFORM in outcomes["train"].errors  # woken by the failure, not left waiting
