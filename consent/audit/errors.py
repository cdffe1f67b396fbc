"""One flat catalogue of audit-log failures; each carries the facts a compliance officer needs."""

from __future__ import annotations

from errors import ConfigurationError, IntegrityFailure, InvalidInput, Refused, XydError


class AuditError(XydError):
    """Base class of every audit-log failure."""


class EventRejected(AuditError, InvalidInput):
    """An audit event broke the leaf rules (unknown key, free text, personal data, missing id)."""

    def __init__(self, field: str, reason: str) -> None:
        # The field may be a key the input carried: it is named in the log, the public text gives the rule only.
        super().__init__(f"audit event field {field!r}: {reason}", public=f"audit event refused: {reason}")
        self.field, self.reason = field, reason


class SchemaMissingError(AuditError, ConfigurationError):
    """The log's tables (or its head row) do not exist: call `create_schema()` first."""


class LogTamperedError(AuditError, IntegrityFailure):
    """Stored rows disagree with a checkpoint or with themselves; `index` is the first bad leaf if known."""

    def __init__(self, reason: str, index: int | None = None) -> None:
        where = "" if index is None else f" (first bad leaf {index})"
        super().__init__(f"audit log does not match: {reason}{where}")
        self.reason, self.index = reason, index


class NoteError(AuditError, InvalidInput):
    """A signed note or checkpoint is malformed (encoding, layout, sizes, base64)."""


class SignatureError(AuditError, IntegrityFailure):
    """A required signature is absent, or a signature from a known key does not verify."""


class QuorumError(SignatureError):
    """Fewer valid witness cosignatures than the policy requires."""

    def __init__(self, required: int, found: int) -> None:
        super().__init__(f"{found} valid witness cosignatures, {required} required")
        self.required, self.found = required, found


class WitnessRefusal(AuditError, Refused):
    """A witness refused to cosign a checkpoint."""


class UnknownLogError(WitnessRefusal):
    """The checkpoint's origin is not a log this witness follows."""


class RollbackError(WitnessRefusal):
    """The checkpoint is smaller than one the witness already cosigned: the log tried to go back in time."""

    def __init__(self, known_size: int, offered_size: int) -> None:
        super().__init__(f"checkpoint size {offered_size} is below the size {known_size} already witnessed")
        self.known_size, self.offered_size = known_size, offered_size


class SplitViewError(WitnessRefusal):
    """Same size, different root: the log showed two different histories (a split view)."""

    def __init__(self, size: int, known_root: bytes, offered_root: bytes) -> None:
        super().__init__(
            f"size {size} was witnessed with root {known_root.hex()}, now offered with {offered_root.hex()}"
        )
        self.size, self.known_root, self.offered_root = size, known_root, offered_root


class WitnessConflict(WitnessRefusal):
    """The log proved consistency from a size the witness has not seen; retry from `known_size`."""

    def __init__(self, known_size: int, claimed_size: int) -> None:
        super().__init__(f"proof starts at size {claimed_size}, the witness last saw size {known_size}")
        self.known_size, self.claimed_size = known_size, claimed_size


class InconsistentCheckpointError(WitnessRefusal):
    """The consistency proof from the last witnessed checkpoint to the offered one does not verify."""


class MissingUsesError(AuditError, IntegrityFailure):
    """A cross-check found uses in a source node's local log that the registry's log lacks or altered."""

    def __init__(self, missing: int, altered: int, unproven: int) -> None:
        super().__init__(f"registry log is missing {missing} uses, altered {altered}, cannot prove {unproven}")
        self.missing, self.altered, self.unproven = missing, altered, unproven


class LogHistoryError(AuditError):
    """The stored log contradicts a signed checkpoint held outside it (a witness, a bank's receipt, the
    officer's own copy): `holder` says who holds it; trusted_* is that checkpoint, stored_* the log's head."""

    def __init__(self, what: str, *, holder: str, trusted_size: int, trusted_root: bytes, stored_size: int,
                 stored_root: bytes) -> None:
        super().__init__(
            f"{what}: {holder} holds a checkpoint of size {trusted_size} (root {trusted_root.hex()[:16]}…), "
            f"the stored log has size {stored_size} (root {stored_root.hex()[:16]}…)"
        )
        self.holder = holder
        self.trusted_size, self.trusted_root = trusted_size, trusted_root
        self.stored_size, self.stored_root = stored_size, stored_root


class LogTruncatedError(LogHistoryError):
    """A checkpoint a witness, a bank or the log itself signed is larger than the stored log: leaves were
    deleted (the newest rows, their checkpoints and the head rewritten)."""


class LogRolledBackError(LogHistoryError):
    """The officer's last verified checkpoint is larger than the stored log: the log went back in time since
    the officer last looked."""


class LogForkedError(LogHistoryError):
    """The stored log does not extend a checkpoint held outside it (same size with another root, or no
    consistency proof from it): the log now shows another history than the one it signed before."""


class WitnessesUnavailableError(AuditError):
    """Fewer witnesses answered than the quorum: truncation cannot be ruled out. `failures` names each
    witness that did not answer and why."""

    def __init__(self, required: int, answered: int, failures: tuple[tuple[str, str], ...]) -> None:
        reasons = "; ".join(f"{name}: {why}" for name, why in failures) or "none configured"
        super().__init__(f"{answered} witnesses answered, {required} required ({reasons})")
        self.required, self.answered, self.failures = required, answered, failures
