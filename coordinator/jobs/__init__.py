"""Jobs at the coordinator: their persisted state machine, the runner that drives nodes, the hetero-LR arbiter."""

from coordinator.jobs.store import JobState, JobStore, StageRecord

__all__ = ["JobState", "JobStore", "StageRecord"]
