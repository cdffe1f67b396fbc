"""The job file: which parties take part, which stages run, and each stage's settings.

A job file is validated whole when it is parsed (parties, stages and every section's keys), so a mistake is
reported at submission, before any party has done work.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import InvalidInput
from jobspec.settings import EvaluateSettings, PsiSettings, SettingsError, TrainSettings
from jobspec.stages import DEFAULT_STAGES, WOE_STAGES, Algorithm, Stage

SECTIONS = ("job", "parties", "items", "psi", "train", "binning", "evaluate")


# `[job] max_message_mb`: the job's ceiling on one data-plane message; each node also applies its own maximum
# (federation.chunking: DEFAULT_MAX_MESSAGE_BYTES when the job says nothing, HARD_MAX_MESSAGE_BYTES at most).
MAX_MESSAGE_MB_RANGE = (1, 4096)
# `[job] project` (the project each source unit's approval names) and `[items]` (the data items asked of a source).
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ITEM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


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
    project: str | None = None  # the project each source node's approval must name
    items: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # data items asked of each source

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
        if self.project is not None:
            params["project"] = self.project
        if self.items:
            params["items"] = {party: list(names) for party, names in self.items.items()}
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


def _items(raw: Any, passive: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`[items]`: for some source parties, the data items (columns) the job asks of them."""
    if not isinstance(raw, dict):
        raise JobSpecError("[items] must be a table of party = [item, ...]")
    items = {}
    for party, names in raw.items():
        if party not in passive:
            raise JobSpecError(f"[items] names {party!r}, which is not a passive party of the job")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and _ITEM.match(n) for n in names):
            raise JobSpecError(f"[items] {party!r} must be a non-empty list of column names")
        items[party] = tuple(names)
    return items


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
    if not active.startswith("platform/"):
        # The leader learns the intersection and drives every exchange: a source unit leading a job could
        # match hand-picked ids against another unit's table.
        raise JobSpecError(f"only the platform may lead a job: [parties] active is {active!r}")
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
    project = job.get("project")
    if project is not None and (not isinstance(project, str) or not _PROJECT.match(project)):
        raise JobSpecError(f"[job] project must be a lowercase token like credit-2026, got {project!r}")
    items = _items(raw.get("items", {}), passive)
    return JobSpec(name=str(job.get("name", "job")), active=active, passive=passive, stages=stages, psi=psi,
                   train=train, evaluate=evaluate, raw=sections, text=text, max_message_mb=max_message_mb,
                   project=project, items=items)


def load_job_spec(path: Path) -> JobSpec:
    try:
        return parse_job_spec(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JobSpecError(f"job file not found: {path}") from exc
