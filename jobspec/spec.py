"""The job file: which parties take part, which stages run, and each stage's settings.

A job file is validated whole when it is parsed (parties, stages and every section's keys), so a mistake is
reported at submission, before any party has done work.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from errors import InvalidInput
from jobspec.settings import EvaluateSettings, PsiSettings, SettingsError, TrainSettings
from jobspec.stages import DEFAULT_STAGES, WOE_STAGES, Algorithm, Stage

SECTIONS = ("job", "parties", "psi", "train", "binning", "evaluate")


# `[job] max_message_mb`: the job's ceiling on one data-plane message; each node also applies its own maximum
# (federation.chunking: DEFAULT_MAX_MESSAGE_BYTES when the job says nothing, HARD_MAX_MESSAGE_BYTES at most).
MAX_MESSAGE_MB_RANGE = (1, 4096)


class JobSpecError(InvalidInput):
    """The job file is malformed or names something that does not exist."""

    code = "BAD_JOB"


@dataclass(frozen=True)
class JobSpec:
    """A parsed, validated job file."""

    name: str
    active: str
    passive: tuple[str, ...]
    stages: tuple[Stage, ...]
    psi: PsiSettings
    train: TrainSettings | None
    evaluate: EvaluateSettings
    raw: dict[str, dict[str, Any]]
    text: str = ""
    max_message_mb: int | None = None  # None: each node's default

    @property
    def max_message_bytes(self) -> int:
        """The job's ceiling on one message in bytes, 0 for the nodes' default (as `TaskRequest` carries it)."""
        return 0 if self.max_message_mb is None else self.max_message_mb << 20

    @property
    def parties(self) -> tuple[str, ...]:
        return (self.active, *self.passive)

    @property
    def algorithm(self) -> Algorithm | None:
        return None if self.train is None else self.train.algorithm

    @property
    def model_name(self) -> str:
        """The name the model registry files a published model under."""
        return (self.train.model_name if self.train else None) or self.name

    def stage_params(self, stage: Stage) -> dict[str, Any]:
        """What every party receives for `stage` (parsed back with `StageParams.parse`): the roster and the
        sections as written; each party validates them again itself."""
        params: dict[str, Any] = {"active": self.active, "passive": list(self.passive), "job_name": self.name,
                                  "psi": dict(self.raw.get("psi", {}))}
        if stage is not Stage.PSI and self.train is not None:
            params["train"] = dict(self.raw["train"])
            params["binning"] = dict(self.raw.get("binning", {}))
        if stage is Stage.EVALUATE:
            params["evaluate"] = dict(self.raw.get("evaluate", {}))
        return params


def _party(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or not all(value.split("/")):
        raise JobSpecError(f"{where}: expected a party like 'source/tax', got {value!r}")
    return value


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise JobSpecError(f"[{name}] must be a table")
    return value


def parse_job_spec(text: str) -> JobSpec:
    """Parse and validate the TOML text of a job file."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobSpecError(f"job file is not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise JobSpecError(f"unknown sections {unknown}; valid: {list(SECTIONS)}")
    job = _section(raw, "job")
    parties = raw.get("parties")
    if not isinstance(parties, dict):
        raise JobSpecError("job file needs a [parties] table with `active` and `passive`")
    active = _party(parties.get("active"), "[parties] active")
    passive_raw = parties.get("passive", [])
    if not isinstance(passive_raw, list) or not passive_raw:
        raise JobSpecError("[parties] passive must be a non-empty list of parties")
    passive = tuple(_party(p, "[parties] passive") for p in passive_raw)
    if len(set(passive)) != len(passive) or active in passive:
        raise JobSpecError("[parties] lists a party twice")
    sections = {name: _section(raw, name) for name in ("psi", "train", "binning", "evaluate")}
    try:
        psi = PsiSettings.parse(sections["psi"])
        train_raw = sections["train"]
        if train_raw.get("algorithm") == "psi" and set(train_raw) == {"algorithm"}:
            train_raw = {}  # a matching job may say so explicitly
        train = TrainSettings.parse(train_raw, sections["binning"]) if train_raw else None
        if train is None and sections["binning"]:
            raise SettingsError("[binning] needs a [train] table with algorithm = \"scorecard\" or woe = true")
        evaluate = EvaluateSettings.parse(sections["evaluate"])
    except SettingsError as exc:
        raise JobSpecError(str(exc)) from exc
    sections["train"] = train_raw
    algorithm = None if train is None else train.algorithm
    default = WOE_STAGES if train is not None and train.uses_woe else DEFAULT_STAGES[algorithm]
    stages_raw = job.get("stages", [s.value for s in default])
    known = [s.value for s in Stage]
    bad = [s for s in stages_raw if s not in known]
    if bad:
        raise JobSpecError(f"unknown stages {bad}; known: {known}")
    stages = tuple(Stage(s) for s in stages_raw)
    if not stages:
        raise JobSpecError("[job] stages is empty")
    if train is None and any(s is not Stage.PSI for s in stages):
        raise JobSpecError("stages other than psi need a [train] table with an algorithm")
    if train is not None and Stage.TRAIN in stages and psi.reveal != "both":
        raise JobSpecError("[train] needs aligned rows: set [psi] reveal = \"both\"")
    max_message_mb = job.get("max_message_mb")
    low, high = MAX_MESSAGE_MB_RANGE
    if max_message_mb is not None and (type(max_message_mb) is not int or not low <= max_message_mb <= high):
        raise JobSpecError(f"[job] max_message_mb must be an integer in {low}..{high}")
    return JobSpec(name=str(job.get("name", "job")), active=active, passive=passive, stages=stages, psi=psi,
                   train=train, evaluate=evaluate, raw=sections, text=text, max_message_mb=max_message_mb)


def load_job_spec(path: Path) -> JobSpec:
    try:
        return parse_job_spec(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JobSpecError(f"job file not found: {path}") from exc
