"""What a job is, shared by the coordinator and every role: the job file, its stages and their parameters."""
