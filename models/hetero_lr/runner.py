"""The only hetero-LR code that touches a channel: it moves the step classes' messages between parties.

Pass a channel scoped to the job (e.g. `channel.scoped("job-42/hetero_lr")`). The guest (platform) runs
`run_guest`, each host (source node) `run_host`, the arbiter (coordinator) `run_arbiter`; the same code
runs over InMemoryChannel (tests) and GrpcChannel (processes). A refusal by any party stops every party
with PlanRefusedError instead of a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from federation.channel import Channel
from federation.proto import hetero_lr_pb2 as pb
from models.hetero_lr.arbiter import Arbiter, ArbiterPolicy
from models.hetero_lr.checkpoint import EpochState, plan_fingerprint
from models.hetero_lr.guest import GuestTrainer
from models.hetero_lr.host import HostPolicy, HostTrainer
from models.hetero_lr.local import batch_count
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.model import ConvergenceReport, LrModel
from models.hetero_lr.params import PLAN_ERRORS, HeteroLrParams, PlanRefusedError, ProtocolError

DEFAULT_TIMEOUT = 600.0

# Called with (epochs finished, this party's encoded state) after every epoch that does not end training.
SaveCheckpoint = Callable[[int, bytes], None]
Progress = Callable[[str, float], None]


class Tags:
    """Every message tag of the protocol, named once for all three roles."""

    PLAN = "lr/plan"
    SETUP = "lr/setup"
    ACCEPT = "lr/accept"
    GO = "lr/go"

    @staticmethod
    def epoch_start(e: int) -> str:
        return f"lr/e{e}/start"

    @staticmethod
    def partial(e: int, b: int) -> str:
        return f"lr/e{e}/b{b}/u"

    @staticmethod
    def residual(e: int, b: int) -> str:
        return f"lr/e{e}/b{b}/d"

    @staticmethod
    def columns(e: int, b: int) -> str:
        return f"lr/e{e}/b{b}/columns"

    @staticmethod
    def sums(e: int, b: int) -> str:
        return f"lr/e{e}/b{b}/sums"

    @staticmethod
    def epoch_end(e: int) -> str:
        return f"lr/e{e}/end"

    @staticmethod
    def predict_request(batch: str) -> str:
        return f"lr/predict-{batch}/request"

    @staticmethod
    def predict_scores(batch: str) -> str:
        return f"lr/predict-{batch}/scores"


@dataclass(frozen=True)
class GuestResult:
    """The guest's model part and the convergence report."""

    model: LrModel
    report: ConvergenceReport


def run_guest(channel: Channel, hosts: Sequence[str], arbiter: str, *, labels: np.ndarray, features: np.ndarray,
              params: HeteroLrParams, variables: Sequence[str] | None = None, masks: MaskSource | None = None,
              rng: np.random.Generator | None = None, timeout: float = DEFAULT_TIMEOUT,
              resume: bytes | None = None, on_checkpoint: SaveCheckpoint | None = None,
              progress: Progress | None = None) -> GuestResult:
    """Train as the guest (labels, own features, intercept) with every host and the arbiter; with `resume`
    (a state `on_checkpoint` saved) continue after that epoch, every other party resuming the same one."""
    if not hosts:
        raise ProtocolError("vertical LR needs at least one host")
    guest = GuestTrainer(labels, features, params, variables=variables, masks=masks, rng=rng)
    plan = guest.plan()
    for party in (arbiter, *hosts):
        channel.send(party, Tags.PLAN, plan)
    setup = channel.recv(arbiter, Tags.SETUP, pb.CkksSetup, timeout)
    answers = {h: channel.recv(h, Tags.ACCEPT, pb.Acceptance, timeout) for h in hosts}
    reasons = [f"arbiter: {setup.refused}"] if setup.refused else []
    reasons += [f"{h}: {a.reason}" for h, a in answers.items() if not a.accepted]
    go = pb.Go(proceed=not reasons, reason="; ".join(reasons))
    for party in (arbiter, *hosts):
        channel.send(party, Tags.GO, go)
    if reasons:
        raise PlanRefusedError(go.reason)
    guest.bind(setup)
    fingerprint = plan_fingerprint(plan)
    if resume is not None:
        guest.restore(EpochState.decode(resume, role="guest", fingerprint=fingerprint))
    while not guest.finished:
        start = guest.start_epoch()
        e = start.epoch
        for h in hosts:
            channel.send(h, Tags.epoch_start(e), start)
        for b in range(guest.n_batches):
            partials = {h: channel.recv(h, Tags.partial(e, b), pb.PartialPredictor, timeout) for h in hosts}
            residual = guest.residual(b, partials)
            for h in hosts:
                channel.send(h, Tags.residual(e, b), residual)
            channel.send(arbiter, Tags.columns(e, b), guest.masked_columns(b))
            guest.absorb(b, channel.recv(arbiter, Tags.sums(e, b), pb.MaskedSums, timeout))
        end = guest.end_epoch()
        for party in (arbiter, *hosts):
            channel.send(party, Tags.epoch_end(e), end)
        if progress is not None:
            progress(f"epoch {e + 1}/{guest.params.max_epochs} loss {guest.report().losses[-1]:.6f}",
                     (e + 1) / guest.params.max_epochs)
        if on_checkpoint is not None and not end.stop:
            on_checkpoint(e + 1, guest.snapshot(fingerprint).encode())
    return GuestResult(guest.model(), guest.report())


def run_host(channel: Channel, guest: str, arbiter: str, *, features: np.ndarray,
             variables: Sequence[str] | None = None, policy: HostPolicy = HostPolicy(),  # noqa: B008
             masks: MaskSource | None = None, timeout: float = DEFAULT_TIMEOUT, resume: bytes | None = None,
             on_checkpoint: SaveCheckpoint | None = None) -> LrModel:
    """Train as a host (features only) until the guest's last epoch; returns this host's model part.
    `resume` continues after the epoch of a state `on_checkpoint` saved."""
    host = HostTrainer(features, variables=variables, policy=policy, masks=masks)
    plan = channel.recv(guest, Tags.PLAN, pb.TrainPlan, timeout)
    setup = channel.recv(arbiter, Tags.SETUP, pb.CkksSetup, timeout)
    try:
        if setup.refused:
            raise PlanRefusedError(f"arbiter: {setup.refused}")
        host.accept(plan, setup)
    except PLAN_ERRORS as error:
        channel.send(guest, Tags.ACCEPT, pb.Acceptance(accepted=False, reason=str(error)))
        channel.recv(guest, Tags.GO, pb.Go, timeout)
        raise
    channel.send(guest, Tags.ACCEPT, pb.Acceptance(accepted=True))
    go = channel.recv(guest, Tags.GO, pb.Go, timeout)
    if not go.proceed:
        raise PlanRefusedError(go.reason)
    fingerprint = plan_fingerprint(plan)
    if resume is not None:
        host.restore(EpochState.decode(resume, role="host", fingerprint=fingerprint))
    while True:
        start = channel.recv(guest, Tags.epoch_start(host.epoch + 1), pb.EpochStart, timeout)
        host.start_epoch(start)
        e = start.epoch
        for b in range(host.n_batches):
            channel.send(guest, Tags.partial(e, b), host.partial_predictor(b))
            residual = channel.recv(guest, Tags.residual(e, b), pb.Residual, timeout)
            channel.send(arbiter, Tags.columns(e, b), host.masked_columns(b, residual))
            host.absorb(b, channel.recv(arbiter, Tags.sums(e, b), pb.MaskedSums, timeout))
        if channel.recv(guest, Tags.epoch_end(e), pb.EpochEnd, timeout).stop:
            return host.model()
        if on_checkpoint is not None:
            on_checkpoint(e + 1, host.snapshot(fingerprint).encode())


def run_arbiter(channel: Channel, guest: str, hosts: Sequence[str], *,
                policy: ArbiterPolicy = ArbiterPolicy(),  # noqa: B008 - frozen
                masks: MaskSource | None = None, timeout: float = DEFAULT_TIMEOUT, resume: bytes | None = None,
                on_checkpoint: SaveCheckpoint | None = None) -> int:
    """Serve as the arbiter: make the key, answer every masked-sum request; returns the epochs run.
    `resume` continues after the epoch of a state `on_checkpoint` saved (a fresh key all the same)."""
    arbiter = Arbiter(policy, masks=masks)
    plan = channel.recv(guest, Tags.PLAN, pb.TrainPlan, timeout)
    try:
        setup = arbiter.setup(plan)
    except PLAN_ERRORS as error:
        setup = pb.CkksSetup(refused=str(error))
    for party in (guest, *hosts):
        channel.send(party, Tags.SETUP, setup)
    go = channel.recv(guest, Tags.GO, pb.Go, timeout)
    if not go.proceed:
        raise PlanRefusedError(go.reason)
    params = arbiter.params
    assert params is not None
    batches = batch_count(int(plan.rows), params.batch_size)
    parties = (guest, *hosts)
    fingerprint = plan_fingerprint(plan)
    e = 0 if resume is None else EpochState.decode(resume, role="arbiter", fingerprint=fingerprint).epochs
    while True:
        for b in range(batches):
            for party in parties:
                request = channel.recv(party, Tags.columns(e, b), pb.MaskedColumns, timeout)
                channel.send(party, Tags.sums(e, b), arbiter.answer(request))
        if channel.recv(guest, Tags.epoch_end(e), pb.EpochEnd, timeout).stop:
            return e + 1
        e += 1
        if on_checkpoint is not None:
            on_checkpoint(e, EpochState("arbiter", e, fingerprint).encode())


def predict_guest(channel: Channel, hosts: Sequence[str], *, model: LrModel, features: np.ndarray,
                  first_row: int, batch: str, timeout: float = DEFAULT_TIMEOUT) -> np.ndarray:
    """Probabilities of default for aligned rows [first_row, first_row + len(features)): each host returns
    its partial linear predictor of those rows in the clear (a documented leakage of scoring)."""
    x = np.asarray(features, dtype=np.float64)
    request = pb.PredictRequest(first_row=first_row, rows=x.shape[0])
    for h in hosts:
        channel.send(h, Tags.predict_request(batch), request)
    total = model.partial_score(x)
    for h in hosts:
        scores = np.asarray(channel.recv(h, Tags.predict_scores(batch), pb.PartialScores, timeout).scores)
        if scores.size != x.shape[0]:
            raise ProtocolError(f"{h} scored {scores.size} rows, asked {x.shape[0]}")
        total = total + scores
    return 1.0 / (1.0 + np.exp(-total))


def serve_predict(channel: Channel, guest: str, *, model: LrModel, features: np.ndarray, batch: str,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """Answer one prediction request with this host's partial linear predictor of the asked rows."""
    request = channel.recv(guest, Tags.predict_request(batch), pb.PredictRequest, timeout)
    x = np.asarray(features, dtype=np.float64)
    end = request.first_row + request.rows
    if end > x.shape[0]:
        raise ProtocolError(f"rows up to {end} asked, this host holds {x.shape[0]}")
    scores = model.partial_score(x[request.first_row : end])
    channel.send(guest, Tags.predict_scores(batch), pb.PartialScores(scores=scores.tolist()))
