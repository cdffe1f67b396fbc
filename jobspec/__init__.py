"""What a job is, shared by the coordinator and every role: the job file, its stages, settings and message tags."""

from jobspec.settings import (
    EvaluateSettings,
    KeyChoice,
    LrSettings,
    PsiSettings,
    Roster,
    SettingsError,
    StageParams,
    TrainSettings,
)
from jobspec.spec import JobSpec, JobSpecError, load_job_spec, parse_job_spec
from jobspec.stages import Algorithm, Stage

__all__ = ["Algorithm", "EvaluateSettings", "JobSpec", "JobSpecError", "KeyChoice", "LrSettings", "PsiSettings",
           "Roster", "SettingsError", "Stage", "StageParams", "TrainSettings", "load_job_spec", "parse_job_spec"]
