"""A source unit's usage report: its lines from the coordinator's governance log, each verified against its leaf
and an inclusion proof under a checkpoint signed with the log key (bound to the coordinator's certificate,
checked against the CA), then compared with the node's own record of what it ran and answered."""

from __future__ import annotations

from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import Ed25519Verifier, verify_checkpoint
from consent.governance.usage_lines import GOVERNANCE_LOG_NAME, UsageError
from consent.governance.usage_report import Evidence, UsageReport, reconcile
from federation.key_binding import BindingVerifier, KeyPurpose
from federation.pki import Identity
from federation.proto import verification_pb2
from source_node.governance.coordinator_link import CoordinatorLink
from source_node.governance.node_governance import SourceGovernance

COORDINATOR = Identity("coordinator", "main")


def check_days(first_day: str, last_day: str) -> tuple[str, str]:
    """ISO dates, first <= last; raises `UsageError`."""
    try:
        first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
    except ValueError:
        raise UsageError("from and to are dates like 2026-03-01") from None
    if last < first:
        raise UsageError("to is before from")
    return first.isoformat(), last.isoformat()


def usage_report(governance: SourceGovernance, link: CoordinatorLink, bindings: BindingVerifier, first_day: str,
                 last_day: str) -> UsageReport:
    first_day, last_day = check_days(first_day, last_day)
    evidence = link.usage(first_day, last_day)
    binding = verification_pb2.KeyBinding.FromString(evidence.log_key_binding)
    bound = bindings.verify(binding, expected=COORDINATOR, now=governance.clock())
    key = Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.AUDIT_LOG))
    checkpoint = verify_checkpoint(evidence.checkpoint, Ed25519Verifier(GOVERNANCE_LOG_NAME, key)).checkpoint
    items = [Evidence(bytes(i.line), bytes(i.leaf), int(i.index), tuple(bytes(p) for p in i.proof))
             for i in evidence.items]
    return reconcile(governance.party, first_day, last_day, items, tree_size=checkpoint.size, root=checkpoint.root,
                     own_tasks=governance.usage.tasks(first_day, last_day),
                     own_answers=governance.usage.answers(first_day, last_day))
