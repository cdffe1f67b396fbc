"""The aggregator's Flower ServerApp (run at the platform): drives the banks and publishes the model.

Writes `model.json` (see models.horizontal.model_file) and `report.json` into the run config's
`output-dir` when it is set.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from bank_federation.aggregator import BankFederation, FederationResult
from bank_federation.settings import RunSettings
from models.horizontal import write_model_file

MODEL_FILE = "model.json"
REPORT_FILE = "report.json"

app = ServerApp()
log = logging.getLogger("xyd.horizontal")


def write_outputs(result: FederationResult, directory: Path) -> Path:
    """Write the model file and the report (with the model's sha256); returns the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    result.report["model_sha256"] = write_model_file(result.model, directory / MODEL_FILE)
    result.report["model_file"] = MODEL_FILE
    path = directory / REPORT_FILE
    path.write_text(json.dumps(result.report, indent=1, sort_keys=True, default=str))
    return path


@app.main()
def main(grid: Grid, context: Context) -> None:
    settings = RunSettings.from_run_config(context.run_config)
    result = BankFederation(grid, settings).run()
    if settings.output_dir:
        write_outputs(result, Path(settings.output_dir))
    log.warning("horizontal %s: %d banks, %d rounds, held-out AUC %.4f, %d payload bytes",
                settings.model, len(result.report["banks"]), settings.rounds,
                result.report["final"]["holdout_auc"], result.report["bytes_on_wire"])
