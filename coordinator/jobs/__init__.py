"""Jobs: the spec a modeller writes, their persisted state machine, and the runner that drives nodes."""

from coordinator.jobs.spec import JobSpec, JobSpecError, load_job_spec, parse_job_spec
from coordinator.jobs.store import JobState, JobStore, StageRecord

__all__ = ["JobSpec", "JobSpecError", "JobState", "JobStore", "StageRecord", "load_job_spec", "parse_job_spec"]
