"""A party's stored part of a vertical LR model or scorecard: to and from `StoredPart` messages on disk.

Used between the stages of a job (binned variables, then the trained weights) and for published parts
(points tables), by the platform and the source nodes alike. No pickle: protobuf with a format version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from federation.proto import scorecard_part_pb2 as pb
from models.binning import VariableBins
from models.hetero_lr import LrModel
from models.scorecard.params import ScorecardError, ScorecardParams
from models.scorecard.points import PartyScorecard, VariablePoints
from models.woe import OwnedVariable, woe_matrix

FORMAT_VERSION = 1


class StoredPartError(ScorecardError):
    """A stored part that is missing, corrupt or of another kind than expected."""


def variable_message(variable: OwnedVariable) -> pb.StoredVariable:
    """A binned variable (with its WOE, if shared) as a message."""
    return pb.StoredVariable(name=variable.name, variable_id=variable.variable_id, category=variable.category,
                             cuts=list(variable.bins.cuts), has_missing=variable.bins.has_missing,
                             woe=[] if variable.woe is None else variable.woe.tolist(), iv=variable.iv,
                             rank=variable.rank, selected=variable.selected)


def owned_variable(message: pb.StoredVariable) -> OwnedVariable:
    """Rebuild a binned variable."""
    bins = VariableBins(tuple(message.cuts), message.has_missing)
    woe = np.asarray(message.woe, dtype=np.float64) if len(message.woe) else None
    if woe is not None and woe.size != bins.n_bins:
        raise StoredPartError(f"{message.name}: {woe.size} WOE values for {bins.n_bins} bins")
    return OwnedVariable(message.name, message.variable_id, message.category, bins, woe, message.iv,
                         message.rank, message.selected)


def binning_part(party: str, variables: Sequence[OwnedVariable]) -> pb.StoredPart:
    """The job-folder record of a party's binned variables after the binning stage."""
    return pb.StoredPart(format_version=FORMAT_VERSION, kind="binning", party=party,
                         variables=[variable_message(v) for v in variables])


def scorecard_part(party: str, binned: Sequence[OwnedVariable], model: LrModel, params: ScorecardParams, *,
                   guest: bool, trained: pb.StoredPart | None = None) -> pb.StoredPart:
    """A published scorecard part: the model's variables with their bins and points; the guest's part also
    carries the scaling and the base points. The training aggregates of `trained` (its LR part) are carried
    over in points."""
    card = PartyScorecard.from_model(binned, model, params)
    by_name = {v.name: v for v in binned}
    variables = []
    for points in card.variables:
        message = variable_message(by_name[points.name])
        message.points.extend(points.points.tolist())
        variables.append(message)
    part = pb.StoredPart(format_version=FORMAT_VERSION, kind="scorecard", party=party, variables=variables,
                         lr=model.to_message(guest=guest), on_woe=True)
    if guest:
        part.pdo, part.base_score, part.base_odds = params.pdo, params.base_score, params.base_odds
        part.base_points = params.offset - params.factor * model.intercept
    if trained is not None and len(trained.training_means) == len(model.variables):
        part.training_means.extend(-params.factor * m for m in trained.training_means)
        part.training_spread = params.factor * trained.training_spread
    return part


def record_training_stats(part: pb.StoredPart, model: LrModel, x_train: np.ndarray) -> pb.StoredPart:
    """Set a trained part's aggregates over its training rows: the mean contribution w_j x_j of each variable
    and the standard deviation of the party's partial score (without the intercept). No row's value."""
    x = np.asarray(x_train, dtype=np.float64).reshape(-1, len(model.variables))
    contributions = x * model.weights
    del part.training_means[:]
    if x.shape[0]:
        part.training_means.extend(contributions.mean(axis=0).tolist())
        part.training_spread = float(contributions.sum(axis=1).std())
    else:
        part.training_means.extend([0.0] * len(model.variables))
    return part


def lr_features(part: pb.StoredPart, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """A published LR part's variables of some rows, transformed as at training (lr.variables order): WOE of
    their bins (a missing value with no missing bin takes its middle cut's bin), or standardised raw values."""
    by_name = {v.name: v for v in part.variables}
    names = list(part.lr.variables)
    if part.on_woe:
        variables = [owned_variable(by_name[n]) for n in names]
        rows = len(next(iter(columns.values()))) if columns else 0
        out = np.zeros((rows, len(names)))
        for k, variable in enumerate(variables):
            x = np.array(columns[variable.name], dtype=np.float64)
            cuts = variable.bins.cuts
            if not variable.bins.has_missing:
                x[np.isnan(x)] = cuts[len(cuts) // 2] if cuts else 0.0
            out[:, k] = variable.transform(x)
        return out
    return standardised(columns, [by_name[n] for n in names])


def lr_part(party: str, model: LrModel, variables: Sequence[pb.StoredVariable], *, guest: bool,
            on_woe: bool) -> pb.StoredPart:
    """A published vertical-LR part: weights plus how each variable is transformed (WOE bins or scaling)."""
    return pb.StoredPart(format_version=FORMAT_VERSION, kind="hetero_lr", party=party, variables=list(variables),
                         lr=model.to_message(guest=guest), on_woe=on_woe)


def party_scorecard(part: pb.StoredPart) -> PartyScorecard:
    """The points tables of a scorecard part."""
    if part.kind != "scorecard":
        raise StoredPartError(f"expected a scorecard part, found {part.kind!r}")
    return PartyScorecard([VariablePoints(v.name, v.category, VariableBins(tuple(v.cuts), v.has_missing),
                                          np.asarray(v.points, dtype=np.float64)) for v in part.variables])


def scaling(part: pb.StoredPart) -> ScorecardParams:
    """The score scaling a guest's scorecard part was built with."""
    return ScorecardParams(pdo=part.pdo, base_score=part.base_score, base_odds=part.base_odds)


def lr_model(part: pb.StoredPart) -> LrModel:
    """The LR weights of a trained part."""
    if not part.HasField("lr"):
        raise StoredPartError(f"the {part.kind} part of {part.party} holds no trained weights")
    return LrModel.from_message(part.lr)


def standardised(values: Mapping[str, np.ndarray], variables: Sequence[pb.StoredVariable]) -> np.ndarray:
    """Raw features scaled as at training: (x - mean) / scale, missing values at the mean (0)."""
    if not variables:
        rows = len(next(iter(values.values()))) if values else 0
        return np.zeros((rows, 0))
    columns = [(np.asarray(values[v.name], dtype=np.float64) - v.mean) / v.scale for v in variables]
    return np.nan_to_num(np.column_stack(columns), nan=0.0)


def scaling_of(values: Mapping[str, np.ndarray], category: Mapping[str, str] | None = None
               ) -> list[pb.StoredVariable]:
    """Standardisation of every raw column from its (training) values; constant or empty columns get scale 1."""
    out = []
    for name, raw in values.items():
        x = np.asarray(raw, dtype=np.float64)
        present = x[~np.isnan(x)]
        mean = float(present.mean()) if present.size else 0.0
        scale = float(present.std()) if present.size > 1 else 0.0
        out.append(pb.StoredVariable(name=name, category=(category or {}).get(name, ""), mean=mean,
                                     scale=scale if scale > 1e-12 else 1.0, selected=True))
    return out


def training_matrices(binning: pb.StoredPart | None, x_train: Mapping[str, np.ndarray],
                      x_holdout: Mapping[str, np.ndarray], categories: Mapping[str, str]
                      ) -> tuple[list[str], np.ndarray, np.ndarray, list[pb.StoredVariable]]:
    """A party's LR training and holdout matrices and how each column was made: WOE of its binned variables
    (the selected ones; all of them when none passed the threshold) when the job binned (`binning`), else
    standardised raw values."""
    if binning is not None:
        variables = [owned_variable(v) for v in binning.variables]
        selected_only = any(v.selected for v in variables)
        names, train = woe_matrix(variables, x_train, selected_only=selected_only)
        _, holdout = woe_matrix(variables, x_holdout, selected_only=selected_only)
        chosen = set(names)
        return names, train, holdout, [variable_message(v) for v in variables if v.name in chosen]
    scalers = scaling_of(x_train, categories)
    return [s.name for s in scalers], standardised(x_train, scalers), standardised(x_holdout, scalers), scalers


def write_part(path: Path, part: pb.StoredPart) -> str:
    """Write a part; returns the sha256 (hex) of the bytes written."""
    data = part.SerializeToString(deterministic=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_part(path: Path, kind: str | None = None) -> pb.StoredPart:
    """Read and check a part (its format version and, if given, its kind)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoredPartError(f"no stored part at {path}") from exc
    part = pb.StoredPart()
    try:
        part.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError, a private subclass
        raise StoredPartError(f"{path.name} is not a stored part: {exc}") from exc
    if part.format_version != FORMAT_VERSION:
        raise StoredPartError(f"{path.name}: unsupported format {part.format_version}")
    if kind is not None and part.kind != kind:
        raise StoredPartError(f"{path.name}: expected a {kind} part, found {part.kind!r}")
    return part


def placeable(card: PartyScorecard, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The card's columns with the values its bins cannot place replaced: a missing value of a variable that
    had no missing bin at training takes the value of its middle cut point (a central bin)."""
    out = {}
    for variable in card.variables:
        x = np.array(columns[variable.name], dtype=np.float64)
        cuts = variable.bins.cuts
        if not variable.bins.has_missing:
            x[np.isnan(x)] = cuts[len(cuts) // 2] if cuts else 0.0
        out[variable.name] = x
    return out
