"""A job's settings, typed and validated once: `[psi]`, `[train]` and `[evaluate]` of the job file.

The coordinator parses them when a job is submitted, so a misspelt key is refused (with the list of valid
ones) before any stage runs; every party parses the same sections again from the task it receives. Security
switches (short test keys, plaintext training) are not settings of a job: only a node's own config sets them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from errors import InvalidInput
from jobspec.stages import Algorithm
from models.binning import BinningError, MergeRule
from models.hetero_lr import HeteroLrError, HeteroLrParams, Schedule
from models.scorecard import ScorecardError, ScorecardParams
from models.secureboost import SecureBoostError, SecureBoostParams
from models.woe import SelectionRule, WoeOptions


class SettingsError(InvalidInput):
    """A section of the job file names an unknown key or a value out of range."""

    code = "BAD_PARAMS"


# Who learns the intersection, by `[psi] reveal`: (active party, passive parties). Sizes are always learned.
PSI_REVEAL = {"both": (True, True), "active": (True, False), "passive": (False, True), "none": (False, False)}
# Node settings that a job file once carried; each is refused with where it now belongs.
NODE_ONLY = {"allow_insecure_for_tests": "[policy] allow_insecure_keys_for_tests in each node's own config",
             "allow_plaintext_training": "[policy] allow_plaintext_training in each source node's own config"}


def _refuse_unknown(section: str, raw: Mapping[str, Any], known: set[str]) -> None:
    moved = sorted(set(raw) & set(NODE_ONLY))
    if moved:
        raise SettingsError(f"[{section}] {moved[0]} is not a job setting: set {NODE_ONLY[moved[0]]}")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown [{section}] settings {unknown}; valid: {sorted(known)}")


@dataclass(frozen=True)
class PsiSettings:
    """`[psi]`: who learns the intersection and how many ids travel per message."""

    reveal: str = "both"
    batch_size: int = 20_000

    def __post_init__(self) -> None:
        if self.reveal not in PSI_REVEAL:
            raise SettingsError(f"[psi] reveal must be one of {sorted(PSI_REVEAL)}, got {self.reveal!r}")
        if not 1 <= self.batch_size <= 1_000_000:
            raise SettingsError(f"[psi] batch_size must be in [1, 1000000], got {self.batch_size}")

    @property
    def active_learns(self) -> bool:
        return PSI_REVEAL[self.reveal][0]

    @property
    def passive_learns(self) -> bool:
        return PSI_REVEAL[self.reveal][1]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PsiSettings:
        _refuse_unknown("psi", raw, {f.name for f in dataclasses.fields(cls)})
        return _build(cls, "psi", reveal=str(raw.get("reveal", "both")), batch_size=int(raw.get("batch_size", 20_000)))


@dataclass(frozen=True)
class KeyChoice:
    """The HE scheme and key size of a job's fresh key: 3072 bits and obfuscator exponents of twice the
    security strength by default, 128-bit security (docs/protocols/he.md 0). `exponent_bits` (absent by
    default) asks for longer exponents; shorter than twice the key's security strength is refused."""

    scheme: str = "paillier"
    key_bits: int = 3072
    exponent_bits: int | None = None

    def __post_init__(self) -> None:
        if self.scheme not in ("paillier", "ou"):
            raise SettingsError(f"[train] scheme must be paillier or ou, got {self.scheme!r}")


@dataclass(frozen=True)
class LrSettings:
    """Vertical LR and scorecard jobs: the LR run, WOE binning and the score scale."""

    lr: HeteroLrParams
    woe: bool
    binning: WoeOptions
    scale: ScorecardParams


@dataclass(frozen=True)
class TrainSettings:
    """`[train]`: the algorithm, its parameters, and the job-level choices around it."""

    algorithm: Algorithm
    model_name: str | None = None
    holdout: float = 0.2
    seed: int = 0
    timeout_seconds: float = 600.0
    he_workers: int = 2
    key: KeyChoice = field(default_factory=KeyChoice)
    secureboost: SecureBoostParams | None = None
    vertical_lr: LrSettings | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout < 1.0:
            raise SettingsError(f"[train] holdout must be in [0, 1), got {self.holdout}")
        if not 1.0 <= self.timeout_seconds <= 86_400.0:
            raise SettingsError(f"[train] timeout_seconds must be in [1, 86400], got {self.timeout_seconds}")
        if not 1 <= self.he_workers <= 64:
            raise SettingsError(f"[train] he_workers must be in [1, 64], got {self.he_workers}")

    @property
    def uses_woe(self) -> bool:
        """Whether the job bins its variables (always for a scorecard, on request for plain LR)."""
        return self.vertical_lr is not None and self.vertical_lr.woe

    @classmethod
    def parse(cls, raw: Mapping[str, Any], binning: Mapping[str, Any] | None = None) -> TrainSettings:
        """Validate a `[train]` table and the optional `[binning]` one (WOE binning keys, which override the
        same keys of `[train]`); unknown keys are refused by name with the valid ones listed."""
        if binning:
            _refuse_unknown("binning", binning, set(_BINNING_KEYS))
            if raw.get("algorithm") == Algorithm.SECUREBOOST:
                raise SettingsError("[binning] is for WOE binning (hetero_lr with woe, scorecard), not secureboost")
            raw = {**raw, **binning}
        name = raw.get("algorithm")
        try:
            algorithm = Algorithm(name)
        except ValueError:
            raise SettingsError(f"[train] algorithm must be one of {[a.value for a in Algorithm]}, "
                                f"got {name!r}") from None
        common = {"algorithm", "model_name", "holdout", "timeout_seconds", "he_workers", "scheme", "key_bits",
                  "exponent_bits"}
        if algorithm is Algorithm.SECUREBOOST:
            known = common | {f.name for f in dataclasses.fields(SecureBoostParams)}
        else:
            known = common | set(_LR_KEYS) | set(_BINNING_KEYS) | {"seed"}
            if algorithm is Algorithm.SCORECARD:
                known |= set(_SCALE_KEYS)
            else:
                known |= {"woe"}
        _refuse_unknown("train", raw, known)
        exponent = raw.get("exponent_bits")
        key = _build(KeyChoice, "train", scheme=str(raw.get("scheme", "paillier")), key_bits=int(raw.get("key_bits", 3072)),
                     exponent_bits=None if exponent is None else int(exponent))
        job = {"algorithm": algorithm, "model_name": None if raw.get("model_name") is None else str(raw["model_name"]),
               "holdout": float(raw.get("holdout", 0.2)), "timeout_seconds": float(raw.get("timeout_seconds", 600.0)),
               "he_workers": int(raw.get("he_workers", 2)), "key": key}
        if algorithm is Algorithm.SECUREBOOST:
            values = {k: v for k, v in raw.items() if k not in common}
            boost = _build(SecureBoostParams, "train", **values)
            return _build(cls, "train", **job, seed=boost.seed, secureboost=boost)
        return _build(cls, "train", **job, seed=int(raw.get("seed", 0)),
                      vertical_lr=_lr_settings(algorithm, raw))


# [train] keys of vertical LR: job file name -> (HeteroLrParams field, type, default).
_LR_KEYS: dict[str, tuple[str, type, Any]] = {
    "encrypted": ("encrypted", bool, True), "batch_size": ("batch_size", int, 4096),
    "epochs": ("max_epochs", int, 20), "shuffle": ("shuffle", bool, True),
    "learning_rate": ("learning_rate", float, 0.3), "schedule": ("schedule", Schedule, Schedule.CONSTANT),
    "decay": ("decay", float, 0.0), "momentum": ("momentum", float, 0.9), "l1": ("l1", float, 0.0),
    "l2": ("l2", float, 1e-3), "tol": ("tol", float, 1e-4), "patience": ("patience", int, 2),
}
_BINNING_KEYS = ("bins", "min_bin_fraction", "min_iv", "top_k")
_SCALE_KEYS = ("pdo", "base_score", "base_odds")


def _lr_settings(algorithm: Algorithm, raw: Mapping[str, Any]) -> LrSettings:
    lr = _build(HeteroLrParams, "train", **{target: kind(raw[key]) if key in raw else default
                                             for key, (target, kind, default) in _LR_KEYS.items()})
    top_k = raw.get("top_k")
    try:
        binning = WoeOptions(n_bins=int(raw.get("bins", 10)),
                             merge=MergeRule(min_bin_fraction=float(raw.get("min_bin_fraction", 0.05))),
                             selection=SelectionRule(min_iv=float(raw.get("min_iv", 0.02)),
                                                     top_k=None if top_k is None else int(top_k)))
    except BinningError as exc:
        raise SettingsError(f"[train] {exc}") from exc
    defaults = ScorecardParams()
    scale = _build(ScorecardParams, "train", pdo=float(raw.get("pdo", defaults.pdo)),
                   base_score=float(raw.get("base_score", defaults.base_score)),
                   base_odds=float(raw.get("base_odds", defaults.base_odds)))
    return LrSettings(lr=lr, woe=algorithm is Algorithm.SCORECARD or bool(raw.get("woe", False)),
                      binning=binning, scale=scale)


@dataclass(frozen=True)
class EvaluateSettings:
    """`[evaluate]`: leave-one-out marginal contributions of each source node (SecureBoost)."""

    contributions: bool = False
    contribution_trees: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> EvaluateSettings:
        _refuse_unknown("evaluate", raw, {f.name for f in dataclasses.fields(cls)})
        trees = raw.get("contribution_trees")
        return cls(contributions=bool(raw.get("contributions", False)),
                   contribution_trees=None if trees is None else int(trees))


@dataclass(frozen=True)
class Roster:
    """Who takes part: the active party (the platform, which leads) and the passive source nodes."""

    active: str
    passive: tuple[str, ...]
    job_name: str = "job"


@dataclass(frozen=True)
class StageParams:
    """What every party receives for one stage (the task's `params_json`): the roster and the job's sections.

    Built by the coordinator from the job file (`JobSpec.stage_params`); parsed again by each party.
    """

    roster: Roster
    psi: PsiSettings = field(default_factory=PsiSettings)
    train: TrainSettings | None = None
    evaluate: EvaluateSettings = field(default_factory=EvaluateSettings)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> StageParams:
        """Parse a task's parameters; raises `SettingsError` naming what is wrong."""
        try:
            roster = Roster(active=str(params["active"]), passive=tuple(str(p) for p in params["passive"]),
                            job_name=str(params.get("job_name", "job")))
        except (KeyError, TypeError) as exc:
            raise SettingsError(f"the task carries no roster: {exc}") from None
        train = params.get("train") or None
        return cls(roster=roster, psi=PsiSettings.parse(params.get("psi", {})),
                   train=None if train is None else TrainSettings.parse(train, params.get("binning")),
                   evaluate=EvaluateSettings.parse(params.get("evaluate", {})), raw=params)

    def require_train(self) -> TrainSettings:
        """The `[train]` settings of a stage that trains, evaluates or publishes a model."""
        if self.train is None:
            raise SettingsError("this stage needs a [train] table in the job file")
        return self.train


def _build(kind: type, section: str, **values: Any) -> Any:
    try:
        return kind(**values)
    except SettingsError:
        raise
    except (TypeError, ValueError, SecureBoostError, HeteroLrError, ScorecardError, BinningError) as exc:
        raise SettingsError(f"[{section}] {exc}") from exc
