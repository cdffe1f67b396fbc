"""What each party publishes for a model: the file of its part and the model id, named once for every role.

A model id is `<prefix>-<job id>`; each party keeps its part at `models/<model id>/<part file>` in its state
folder (`federation.job_files.store_part`), and the scorers find parts by these names.
"""

from __future__ import annotations

from jobspec.stages import Algorithm

SECUREBOOST_ACTIVE_PART = "secureboost-active.bin"
SECUREBOOST_PASSIVE_PART = "secureboost-passive.bin"
SCORECARD_PART = "scorecard-part.bin"
HETERO_LR_PART = "hetero-lr-part.bin"

PART_FILE = {Algorithm.SCORECARD: SCORECARD_PART, Algorithm.HETERO_LR: HETERO_LR_PART}
_PREFIX = {Algorithm.SECUREBOOST: "sb", Algorithm.SCORECARD: "sc", Algorithm.HETERO_LR: "lr"}

# The coordinator's identity as the vertical-LR arbiter, which every party of such a job expects.
ARBITER = "coordinator/main"


def model_id(algorithm: Algorithm, job_id: str) -> str:
    """The id of the model a job publishes."""
    return f"{_PREFIX[Algorithm(algorithm)]}-{job_id}"
