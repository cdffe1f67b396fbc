"""Vertical SecureBoost: lossless gradient boosting between an active party (labels, private key) and any
number of passive parties (features, public key only). Pure protocol steps plus thin channel runners."""

from models.secureboost.active import ActiveTrainer, TreeRecord, Validation
from models.secureboost.backends import encryptor_for, evaluator_for
from models.secureboost.binning import FeatureBins, FeatureTable
from models.secureboost.cipher import GradientEncryptor, HistogramEvaluator
from models.secureboost.errors import (
    InconsistentMasksError,
    InvalidDataError,
    InvalidParameterError,
    ModelIntegrityError,
    PackingOverflowError,
    PlaintextRefusedError,
    ProtocolError,
    SecureBoostError,
)
from models.secureboost.he_cipher import HeEncryptor, HeEvaluator
from models.secureboost.model import ActiveModel, Importance, PassiveModel, SplitRule, TreeNodes
from models.secureboost.params import Metric, Objective, SecureBoostParams
from models.secureboost.passive import PassiveTrainer
from models.secureboost.plain_cipher import PlainEncryptor, PlainEvaluator
from models.secureboost.runner import Tags, predict_active, run_active, run_passive, serve_predict

__all__ = [
    "ActiveModel",
    "ActiveTrainer",
    "FeatureBins",
    "FeatureTable",
    "GradientEncryptor",
    "HeEncryptor",
    "HeEvaluator",
    "HistogramEvaluator",
    "Importance",
    "InconsistentMasksError",
    "InvalidDataError",
    "InvalidParameterError",
    "Metric",
    "ModelIntegrityError",
    "Objective",
    "PackingOverflowError",
    "PassiveModel",
    "PassiveTrainer",
    "PlainEncryptor",
    "PlainEvaluator",
    "PlaintextRefusedError",
    "ProtocolError",
    "SecureBoostError",
    "SecureBoostParams",
    "SplitRule",
    "Tags",
    "TreeNodes",
    "TreeRecord",
    "Validation",
    "encryptor_for",
    "evaluator_for",
    "predict_active",
    "run_active",
    "run_passive",
    "serve_predict",
]
