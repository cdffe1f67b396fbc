"""One source unit's governance in this process (its table, catalogue, approval store and the admin endpoint
with its console on a real loopback HTTP server), with no coordinator: requests are filed on the node."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from consent.governance import ApprovalTerms, create_approval_key, load_approval_private_key
from consent.governance.admin_signature import AdminVerifier
from consent.governance.approval import approval_key_id
from federation.config import load_node_config
from sandbox.governance import ApprovalPlan, catalogue_items, catalogue_toml, request_terms
from sandbox.synthdata import generate
from source_node.governance.admin import AdminDesk
from source_node.governance.admin_http import AdminServer
from source_node.governance.console import AdminConsole
from source_node.governance.node_governance import SourceGovernance, open_governance
from tables import load_table

PARTY = "source/tax"


@dataclass
class Unit:
    governance: SourceGovernance
    desk: AdminDesk
    url: str
    key_path: Path
    catalogue: list[dict[str, str]]
    passphrase: bytes | None = None

    @property
    def key(self):
        return load_approval_private_key(self.key_path, passphrase=self.passphrase)

    def file(self, project: str) -> str:
        """A request filed on the node (as `xyd approval` does without a coordinator); its approval id."""
        terms = request_terms(PARTY, ApprovalPlan(project=project), catalogue=self.catalogue,
                              counterparties=["source/social_insurance", "coordinator/main"], requested_by="admin/ops")
        return self.desk.file(ApprovalTerms.from_json(terms))["approval_id"]


@contextmanager
def unit_with_console(folder: Path, *, passphrase: bytes | None = None) -> Iterator[Unit]:
    """The unit; with `passphrase`, its approval key file is encrypted under it (PBES2, as keygen writes it)."""
    generate(60, 3, folder / "data")
    create_approval_key(folder / "approval.key", folder / "approval.pub", passphrase=passphrase)
    items = catalogue_items(folder / "data" / "tax.toml")
    config = folder / "node.toml"
    config.write_text(f'[node]\nstate_dir = "{folder / "state"}"\n[tls]\nca = "ca.pem"\ncert = "c.pem"\n'
                      f'key = "k.pem"\n[governance]\napproval_key = "approval.pub"\n' + "\n".join(catalogue_toml(items)),
                      encoding="utf-8")
    table = load_table(folder / "data" / "tax.toml", folder / "data" / "tax.csv")
    governance = open_governance(load_node_config(config, env={}), table, PARTY)
    key_id = approval_key_id(governance.store.approval_key)
    desk = AdminDesk(governance, None, actor=f"{PARTY}/admin-{key_id}")
    verifier = AdminVerifier(governance.store.approval_key)

    def clock() -> int:
        return int(datetime.now(UTC).timestamp())

    console = AdminConsole(desk, verifier, clock=clock, unit=PARTY, key_id=key_id)
    server = AdminServer(desk, verifier, "127.0.0.1:0", clock=clock, console=console)
    url = server.start()
    try:
        yield Unit(governance, desk, url, folder / "approval.key", items, passphrase)
    finally:
        server.stop()
        governance.close()
