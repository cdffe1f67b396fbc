"""Private set intersection: ECDH over X25519, streamed in batches over a `Channel`."""

from federation.psi.compute import LocalPsiCompute, PsiCompute, psi_compute
from federation.psi.errors import (
    InvalidPointError,
    PsiConfigMismatch,
    PsiError,
    PsiProtocolError,
    PsiSizeMismatch,
)
from federation.psi.protocol import (
    DEFAULT_BATCH_SIZE,
    PsiResult,
    Role,
    run_psi,
    run_psi_follower,
    run_psi_leader,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "InvalidPointError",
    "LocalPsiCompute",
    "PsiCompute",
    "PsiConfigMismatch",
    "PsiError",
    "PsiProtocolError",
    "PsiResult",
    "PsiSizeMismatch",
    "Role",
    "psi_compute",
    "run_psi",
    "run_psi_follower",
    "run_psi_leader",
]
