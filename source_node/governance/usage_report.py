"""A source unit's usage report: its lines (served by the coordinator), each verified against its leaf in the
platform's one audit log and an inclusion proof under a checkpoint signed with the log key (bound to the platform's
certificate, checked against the CA) and cosigned by a quorum of witnesses (source nodes, their keys bound to
their certificates), then compared with the node's own record of what it ran and answered."""

from __future__ import annotations

from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import CosignatureVerifier, Ed25519Verifier, verify_checkpoint
from consent.governance.usage_lines import UsageError
from consent.governance.usage_report import Evidence, UsageReport, reconcile
from federation.key_binding import BindingVerifier, KeyBindingInvalid, KeyPurpose, log_origin
from federation.pki import Identity
from federation.proto import verification_pb2
from source_node.governance.coordinator_link import CoordinatorLink
from source_node.governance.node_governance import SourceGovernance

PLATFORM = Identity("platform", "main")


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
    now = governance.clock()
    own_tasks, own_answers = governance.usage.tasks(first_day, last_day), governance.usage.answers(first_day, last_day)
    if not evidence.checkpoint:  # the platform's log has no cosigned checkpoint yet: nothing is proven
        return reconcile(governance.party, first_day, last_day, [], tree_size=0, root=b"", own_tasks=own_tasks,
                         own_answers=own_answers, pending=evidence.pending)
    binding = verification_pb2.KeyBinding.FromString(evidence.log_key_binding)
    bound = bindings.verify(binding, expected=PLATFORM, now=now)
    log_key = Ed25519Verifier(log_origin(PLATFORM), Ed25519PublicKey.from_public_bytes(bound.key(KeyPurpose.AUDIT_LOG)))
    witnesses = []
    for data in evidence.witness_bindings:
        witness = bindings.verify(verification_pb2.KeyBinding.FromString(data), now=now)
        if witness.identity.role != "source":
            raise KeyBindingInvalid(f"{witness.identity} is no witness: witnesses are source nodes")
        witnesses.append(CosignatureVerifier(witness.identity.party,
                                             Ed25519PublicKey.from_public_bytes(witness.key(KeyPurpose.WITNESS))))
    # Our own floor: a strict majority of the witnesses shown, whatever the platform (through the coordinator) says.
    quorum = max(evidence.quorum, len(witnesses) // 2 + 1 if witnesses else 0)
    checkpoint = verify_checkpoint(evidence.checkpoint, log_key, witnesses=witnesses, quorum=quorum).checkpoint
    items = [Evidence(bytes(i.line), bytes(i.leaf), int(i.index), tuple(bytes(p) for p in i.proof))
             for i in evidence.items]
    return reconcile(governance.party, first_day, last_day, items, tree_size=checkpoint.size, root=checkpoint.root,
                     own_tasks=own_tasks, own_answers=own_answers, pending=evidence.pending, witnesses=quorum)
