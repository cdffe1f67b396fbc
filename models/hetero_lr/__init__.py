"""Vertical logistic regression with the coordinator as arbiter: the guest (labels) linearises the sigmoid
around its own partial predictor, CKKS carries the vector work, masks keep every decrypted value hidden
from the arbiter. Pure protocol steps plus thin channel runners. See docs/protocols/hetero_lr.md."""

from models.hetero_lr.arbiter import DEFAULT_FLOOD_SIGMA, Arbiter, ArbiterPolicy
from models.hetero_lr.guest import GuestTrainer, sigmoid
from models.hetero_lr.host import HostPolicy, HostTrainer
from models.hetero_lr.masks import MaskSource
from models.hetero_lr.model import ConvergenceReport, LrModel
from models.hetero_lr.params import (
    PLAN_ERRORS,
    HeteroLrError,
    HeteroLrParams,
    InvalidParameterError,
    PlanRefusedError,
    ProtocolError,
    Schedule,
)
from models.hetero_lr.runner import (
    GuestResult,
    Tags,
    predict_guest,
    run_arbiter,
    run_guest,
    run_host,
    serve_predict,
)

__all__ = [
    "DEFAULT_FLOOD_SIGMA",
    "Arbiter",
    "ArbiterPolicy",
    "ConvergenceReport",
    "GuestResult",
    "GuestTrainer",
    "HeteroLrError",
    "PLAN_ERRORS",
    "HeteroLrParams",
    "HostPolicy",
    "HostTrainer",
    "InvalidParameterError",
    "LrModel",
    "MaskSource",
    "PlanRefusedError",
    "ProtocolError",
    "Schedule",
    "Tags",
    "predict_guest",
    "run_arbiter",
    "run_guest",
    "run_host",
    "serve_predict",
    "sigmoid",
]
