"""The job file: which parties take part, which stages run, and each stage's parameters."""

from __future__ import annotations

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


# `[job] max_message_mb`: the job's ceiling on one data-plane message; each node also applies its own maximum
# (federation.chunking: DEFAULT_MAX_MESSAGE_BYTES when the job says nothing, HARD_MAX_MESSAGE_BYTES at most).
MAX_MESSAGE_MB_RANGE = (1, 4096)


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
    max_message_mb: int | None = None  # None: each node's default

    @property
    def max_message_bytes(self) -> int:
        """The job's ceiling on one message in bytes, 0 for the nodes' default (as `TaskRequest` carries it)."""
        return 0 if self.max_message_mb is None else self.max_message_mb << 20

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
    sections = {k: v for k, v in raw.items() if isinstance(v, dict) and k not in {"job", "parties"}}
    reveal = sections.get("psi", {}).get("reveal", "both")
    if reveal not in PSI_REVEAL:
        raise JobSpecError(f"[psi] reveal must be one of {sorted(PSI_REVEAL)}, got {reveal!r}")
    if algorithm is not None and algorithm != "psi" and "train" in stages_raw and reveal != "both":
        raise JobSpecError("[train] needs aligned rows: set [psi] reveal = \"both\"")
    max_message_mb = job.get("max_message_mb")
    low, high = MAX_MESSAGE_MB_RANGE
    if max_message_mb is not None and (type(max_message_mb) is not int or not low <= max_message_mb <= high):
        raise JobSpecError(f"[job] max_message_mb must be an integer in {low}..{high}")
    return JobSpec(
        max_message_mb=max_message_mb,
        name=str(job.get("name", "job")),
        active=active,
        passive=passive,
        stages=tuple(stages_raw),
        sections=sections,
        text=text,
    )


def load_job_spec(path: Path) -> JobSpec:
    try:
        return parse_job_spec(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JobSpecError(f"job file not found: {path}") from exc
