"""The job file: which parties take part, which stages run, and each stage's parameters."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KNOWN_STAGES = ("psi", "binning", "train", "evaluate", "publish")
# Who learns the intersection, by `[psi] reveal`: (active party, passive parties). Sizes are always learned.
PSI_REVEAL = {"both": (True, True), "active": (True, False), "passive": (False, True), "none": (False, False)}
STAGES_BY_ALGORITHM = {
    None: ("psi",),
    "psi": ("psi",),
    "secureboost": ("psi", "train", "evaluate", "publish"),
    "hetero_lr": ("psi", "train", "evaluate", "publish"),  # plus binning when [train] woe = true
    "scorecard": ("psi", "binning", "train", "evaluate", "publish"),
}
# Algorithms whose training needs the coordinator as a third party (the hetero-LR arbiter).
ARBITER_ALGORITHMS = frozenset({"hetero_lr", "scorecard"})


_PROJECT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ITEM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class JobSpecError(ValueError):
    """The job file is malformed or names something that does not exist."""


@dataclass(frozen=True)
class JobSpec:
    """A parsed, validated job file."""

    name: str
    active: str
    passive: tuple[str, ...]
    stages: tuple[str, ...]
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    text: str = ""
    project: str | None = None  # the project each source node's approval must name
    items: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # data items asked of each source

    @property
    def parties(self) -> tuple[str, ...]:
        return (self.active, *self.passive)

    @property
    def algorithm(self) -> str | None:
        return self.sections.get("train", {}).get("algorithm")

    def stage_params(self, stage: str) -> dict[str, Any]:
        """Parameters sent to every party for `stage`: its section plus the roster."""
        params = dict(self.sections.get(stage, {}))
        params["active"] = self.active
        params["passive"] = list(self.passive)
        params["job_name"] = self.name
        if self.project is not None:
            params["project"] = self.project
        if self.items:
            params["items"] = {party: list(names) for party, names in self.items.items()}
        if stage in ("binning", "train", "evaluate", "publish"):
            params = {**self.sections.get("train", {}), **params}
        if stage == "evaluate":
            params = {**params, **self.sections.get("evaluate", {})}
        if stage == "psi":
            params["active_learns"], params["passive_learns"] = PSI_REVEAL[params.get("reveal", "both")]
        return params


def _party(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or not all(value.split("/")):
        raise JobSpecError(f"{where}: expected a party like 'source/tax', got {value!r}")
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
    job = raw.get("job", {})
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
    algorithm = raw.get("train", {}).get("algorithm")
    default_stages = STAGES_BY_ALGORITHM.get(algorithm)
    if algorithm == "hetero_lr" and raw.get("train", {}).get("woe", False):
        default_stages = ("psi", "binning", "train", "evaluate", "publish")
    stages_raw = job.get("stages", list(default_stages or ()))
    if not stages_raw:
        raise JobSpecError(f"unknown [train] algorithm {algorithm!r}; known: "
                           f"{sorted(a for a in STAGES_BY_ALGORITHM if a)}")
    unknown = [s for s in stages_raw if s not in KNOWN_STAGES]
    if unknown:
        raise JobSpecError(f"unknown stages {unknown}; known: {list(KNOWN_STAGES)}")
    project = job.get("project")
    if project is not None and (not isinstance(project, str) or not _PROJECT.match(project)):
        raise JobSpecError(f"[job] project must be a lowercase token like credit-2026, got {project!r}")
    items = _items(raw.get("items", {}), passive)
    sections = {k: v for k, v in raw.items() if isinstance(v, dict) and k not in {"job", "parties", "items"}}
    reveal = sections.get("psi", {}).get("reveal", "both")
    if reveal not in PSI_REVEAL:
        raise JobSpecError(f"[psi] reveal must be one of {sorted(PSI_REVEAL)}, got {reveal!r}")
    if algorithm is not None and algorithm != "psi" and "train" in stages_raw and reveal != "both":
        raise JobSpecError("[train] needs aligned rows: set [psi] reveal = \"both\"")
    return JobSpec(
        name=str(job.get("name", "job")),
        active=active,
        passive=passive,
        stages=tuple(stages_raw),
        sections=sections,
        text=text,
        project=project,
        items=items,
    )


def load_job_spec(path: Path) -> JobSpec:
    try:
        return parse_job_spec(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JobSpecError(f"job file not found: {path}") from exc
