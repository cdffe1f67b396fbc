"""The tamper-evident audit log: leaves in the caller's transaction, signed checkpoints, witnesses.

Typical use:
    engine = open_engine("sqlite:///registry.db")
    log = AuditLog(engine); log.create_schema()
    with engine.begin() as conn:
        ...state change...
        receipt = log.append(conn, AuditEvent(kind=EventKind.VERIFICATION_ANSWERED, ...))
"""

from consent.audit.checkpoint import (
    Checkpoint,
    VerifiedCheckpoint,
    add_cosignatures,
    sign_checkpoint,
    verify_checkpoint,
)
from consent.audit.cosignature import CosignatureSigner, CosignatureVerifier
from consent.audit.cross_check import CrossCheckReport, RegistryLogView, cross_check
from consent.audit.errors import (
    AuditError,
    EventRejected,
    InconsistentCheckpointError,
    LogForkedError,
    LogHistoryError,
    LogRolledBackError,
    LogTamperedError,
    LogTruncatedError,
    MissingUsesError,
    NoteError,
    QuorumError,
    RollbackError,
    SchemaMissingError,
    SignatureError,
    SplitViewError,
    UnknownLogError,
    WitnessConflict,
    WitnessesUnavailableError,
    WitnessRefusal,
)
from consent.audit.events import AuditEvent, EventKind, keyed_ref, sha256_hex
from consent.audit.history import (
    HeldCheckpoint,
    HistoryReport,
    Holder,
    LogTrust,
    WitnessAnswer,
    prove_extends,
    verify_history,
)
from consent.audit.integrity import verify_log_against_checkpoint, verify_log_rows
from consent.audit.local_log import LocalUseLog
from consent.audit.log import AuditLog, LeafReceipt, StoredLeaf, TreeHead
from consent.audit.note import Ed25519Signer, Ed25519Verifier, NoteSignature, open_note, parse_note
from consent.audit.publisher import CheckpointPublisher, Publication, WitnessClient, request_cosignature
from consent.audit.receipts import InclusionReceipt, issue_receipt, verify_receipt
from consent.audit.storage import configure_sqlite, open_engine
from consent.audit.witness import JsonFileWitnessStore, MemoryWitnessStore, Witness, WitnessStore

__all__ = [
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "Checkpoint",
    "CheckpointPublisher",
    "CosignatureSigner",
    "CosignatureVerifier",
    "CrossCheckReport",
    "Ed25519Signer",
    "Ed25519Verifier",
    "EventKind",
    "EventRejected",
    "HeldCheckpoint",
    "HistoryReport",
    "Holder",
    "InclusionReceipt",
    "InconsistentCheckpointError",
    "JsonFileWitnessStore",
    "LeafReceipt",
    "LocalUseLog",
    "LogForkedError",
    "LogHistoryError",
    "LogRolledBackError",
    "LogTamperedError",
    "LogTruncatedError",
    "LogTrust",
    "MemoryWitnessStore",
    "MissingUsesError",
    "NoteError",
    "NoteSignature",
    "Publication",
    "QuorumError",
    "RegistryLogView",
    "RollbackError",
    "SchemaMissingError",
    "SignatureError",
    "SplitViewError",
    "StoredLeaf",
    "TreeHead",
    "UnknownLogError",
    "VerifiedCheckpoint",
    "Witness",
    "WitnessAnswer",
    "WitnessClient",
    "WitnessConflict",
    "WitnessRefusal",
    "WitnessStore",
    "WitnessesUnavailableError",
    "add_cosignatures",
    "configure_sqlite",
    "cross_check",
    "issue_receipt",
    "keyed_ref",
    "open_engine",
    "open_note",
    "parse_note",
    "prove_extends",
    "request_cosignature",
    "sha256_hex",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_history",
    "verify_log_against_checkpoint",
    "verify_log_rows",
    "verify_receipt",
]
