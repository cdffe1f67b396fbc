"""Horizontal (cross-bank) learning: each bank trains on its own loan book; updates meet only encrypted.

Logistic regression (FedAvg / FedProx) on shared quantile bins with CKKS-encrypted aggregation and
optional DP-SGD; cyclic XGBoost with the booster sealed between banks; a verifiable model file.
"""

from models.he.ckks import CkksParams
from models.horizontal.assessment import Assessment, ServableModel
from models.horizontal.bank import Bank, Publication, SetupReply, StepReply
from models.horizontal.binning import BinEdges
from models.horizontal.boosting import BoostingConfig
from models.horizontal.ckks import HORIZONTAL_CKKS, AggregatorCkks, BankCkks
from models.horizontal.data import BankTable, load_bank_table, pool_tables, split_holdout
from models.horizontal.errors import (
    AggregateRefusedError,
    HorizontalError,
    InvalidParameterError,
    InvalidTableError,
    InvalidVariablesError,
    KeyMismatchError,
    ModelIntegrityError,
    PrivacyBudgetExceededError,
    PublicationMismatchError,
    SealBrokenError,
    SecretKeyExposedError,
)
from models.horizontal.keyring import BankKeyring
from models.horizontal.logistic import LogisticConfig
from models.horizontal.model_file import GlobalModel, read_model_file, write_model_file
from models.horizontal.privacy import DpConfig, RdpAccountant, epsilon_for
from models.horizontal.published import (
    PUBLISHED_MODELS_SUBDIR,
    PublishedModel,
    horizontal_model_id,
    public_training_summary,
    publish_model_file,
    read_published,
)

__all__ = [
    "AggregateRefusedError", "AggregatorCkks", "Bank", "BankCkks", "BankKeyring", "BankTable", "BinEdges",
    "BoostingConfig", "CkksParams", "HORIZONTAL_CKKS", "DpConfig", "GlobalModel", "HorizontalError", "InvalidParameterError",
    "InvalidTableError", "KeyMismatchError", "LogisticConfig", "ModelIntegrityError",
    "PrivacyBudgetExceededError", "Publication", "PublicationMismatchError", "RdpAccountant",
    "SealBrokenError", "SecretKeyExposedError", "SetupReply", "StepReply", "epsilon_for", "load_bank_table",
    "pool_tables", "read_model_file", "split_holdout", "write_model_file",
    # serving: published files and single-applicant scoring
    "Assessment", "InvalidVariablesError", "PUBLISHED_MODELS_SUBDIR", "PublishedModel", "ServableModel",
    "horizontal_model_id", "public_training_summary", "publish_model_file", "read_published",
]
