"""Online scoring under approval, over mTLS: every answer is admitted against the approval the model part was
published under; refusals carry their code; a revocation refuses the next request; queries are counted."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from consent.governance import ApprovalStatus, Quotas, Serving
from federation.grpc_channel import open_secure_channel
from federation.pki import CertificateAuthority, Identity
from federation.proto import scoring_pb2, scoring_pb2_grpc
from federation.server import NodeServer
from sandbox.synthdata import generate
from source_node.scoring import PartyScoringServicer
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
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("governed-scoring")
    generate(200, 3, folder / "data")
    source = GovernedSource(load_tax(folder / "data"), folder / "gov")
    items = tuple(c for c in source.table.schema.column_names if c not in (NOT_SHARED, UNAPPROVED))
    approval_id = source.approve(approval_terms(items, serving=Serving(online=True, institutions=("bank/icbc-sz",),
                                                                       institution_kinds=("guarantor",)),
                                                quotas=Quotas(10**9, 25)))
    platform = load_table(folder / "data" / "platform.toml", folder / "data" / "platform.csv")
    handlers = {PLATFORM: platform_handlers(platform), TAX: source.handlers()}
    spec = job(trees=2)
    for stage in spec.stages:
        assert not run_stage(spec, stage, handlers, folder / "run").errors
    models = folder / "run" / "source-tax" / "models"
    (models / "sb-unapproved").mkdir()
    (models / "sb-unapproved" / "secureboost-passive.bin").write_bytes(
        (models / "sb-job-1" / "secureboost-passive.bin").read_bytes())
    ca = CertificateAuthority.create(folder / "pki")
    server = NodeServer(ca.issue(Identity("source", "tax")))
    server.add_servicer(scoring_pb2_grpc.add_PartyScoringServicer_to_server,
                        PartyScoringServicer(source.table, models, source.governance))
    server.start()
    channel = open_secure_channel(server.address, ca.issue(Identity("platform", "main")), Identity("source", "tax"))
    try:
        yield scoring_pb2_grpc.PartyScoringStub(channel), source, approval_id, [str(i) for i in source.table.ids]
    finally:
        channel.close()
        server.stop(0)


def ask(stub, ids, *, model: str = "sb-job-1", institution: str = "bank/icbc-sz") -> str:
    try:
        stub.LeafMasks(scoring_pb2.MaskRequest(model_id=model, ids=ids, institution=institution,
                                               purpose="PRE_LOAN_REVIEW"), timeout=10)
        return "OK"
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
        return error.details().split(":")[0]


def test_items_stay_unnamed_unless_the_approval_says_so(served) -> None:
    """The approval here does not grant `serving.name_items`: the reply names no item, and still carries the
    default masks the platform needs to score degraded."""
    stub, source, approval_id, ids = served
    reply = stub.LeafMasks(scoring_pb2.MaskRequest(model_id="sb-job-1", ids=ids[:3], institution="bank/icbc-sz",
                                                   purpose="PRE_LOAN_REVIEW"), timeout=10)
    assert not reply.split_items
    assert reply.defaults.n_rows == 1 and len(reply.defaults.trees) == len(reply.masks.trees)
    source.governance.answers.close()
    assert source.store.used(approval_id)["queries"] == 3


def test_scoring_is_admitted_per_answer_and_refused_with_a_code(served) -> None:
    stub, source, approval_id, ids = served
    assert ask(stub, ids[:5]) == "OK"
    assert ask(stub, ids[:5], institution="guarantor/any") == "OK"
    assert ask(stub, ids[:5], institution="bank/other") == "COUNTERPARTY_NOT_APPROVED"
    assert ask(stub, ids[:5], model="sb-unapproved") == "APPROVAL_MISSING"
    source.store.transition(approval_id, ApprovalStatus.SUSPENDED, actor="admin/tax", reason="", now=T0)
    assert ask(stub, ids[:5]) == "APPROVAL_REVOKED"
    source.store.transition(approval_id, ApprovalStatus.APPROVED, actor="admin/tax", reason="", now=T0)
    assert ask(stub, ids[:5]) == "OK"
    # 18 answers given (3 above) of a quota of 25: seven more fit, the eighth does not.
    assert ask(stub, ids[:7]) == "OK"
    assert ask(stub, ids[:1]) == "QUOTA_EXCEEDED"
    source.governance.answers.close()
    assert source.store.used(approval_id)["queries"] == 25



@pytest.fixture(scope="module")
def linear(served, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A vertical-LR part of the tax unit published under an approval of its own (hetero_lr, a quota of 12)."""
    import json

    import numpy as np

    from models.hetero_lr import LrModel
    from models.scorecard.stored import lr_part, record_training_stats, scaling_of, standardised, write_part
    from tables.features import feature_matrix

    stub, source, _, ids = served
    matrix = feature_matrix(source.table)
    names = [n for n in matrix.names if n not in (NOT_SHARED, UNAPPROVED)][:4]
    columns = {n: matrix.values[:, matrix.names.index(n)] for n in names}
    approval_id = source.approve(approval_terms(tuple(names), algorithms={"psi": 0, "hetero_lr": 0},
                                                serving=Serving(online=True, institutions=("bank/icbc-sz",)),
                                                quotas=Quotas(10**9, 12)))
    scalers = scaling_of(columns)
    model = LrModel(tuple(names), np.random.default_rng(5).normal(size=len(names)))
    x = standardised(columns, scalers)
    # The servicer of `served` reads the tax node's models folder of that fixture's run.
    folder = tmp_path_factory.getbasetemp() / "governed-scoring0" / "run" / "source-tax" / "models" / "lr-crafted"
    write_part(folder / "hetero-lr-part.bin",
               record_training_stats(lr_part(TAX, model, scalers, guest=False, on_woe=False), model, x))
    (folder / "approval.json").write_text(json.dumps({"approval_id": approval_id, "algorithm": "hetero_lr"}))
    return stub, source, approval_id, ids, x @ model.weights, names


def test_linear_scores_are_admitted_per_answer_and_hold_one_sum_per_enterprise(linear) -> None:
    """The source's partial linear score of each enterprise, with its training aggregates and no item named
    (the approval does not grant naming); the same admission as every scoring share."""
    stub, source, approval_id, ids, expected, _ = linear

    def request(n: int, institution: str = "bank/icbc-sz") -> scoring_pb2.PointsRequest:
        return scoring_pb2.PointsRequest(model_id="lr-crafted", ids=ids[:n], institution=institution,
                                         purpose="PRE_LOAN_REVIEW")

    reply = stub.LinearScores(request(10), timeout=10)
    assert list(reply.scores) == pytest.approx(list(expected[:10]), abs=1e-12)
    assert reply.training_mean == pytest.approx(float(expected.mean()), abs=1e-12)
    assert reply.training_spread == pytest.approx(float(expected.std()), abs=1e-12)
    assert not reply.items and not reply.top_item
    with pytest.raises(grpc.RpcError) as refused:
        stub.LinearScores(request(1, "bank/other"), timeout=10)
    assert refused.value.details().startswith("COUNTERPARTY_NOT_APPROVED")
    stub.LinearScores(request(2), timeout=10)
    with pytest.raises(grpc.RpcError) as over:  # 12 answers given: the quota is spent
        stub.LinearScores(request(1), timeout=10)
    assert over.value.details().startswith("QUOTA_EXCEEDED")
    source.governance.answers.close()
    assert source.store.used(approval_id)["queries"] == 12
