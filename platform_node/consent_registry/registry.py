"""The platform-embedded consent registry: artefacts and their status, enterprise keys, the audit log, and
the directory of source nodes and bank keys the relay needs, all in the platform's database.

Statements it hands out are signed with the registry's status key and short-lived: a status for
`status_ttl` (at most the 5 minutes a node accepts), an enterprise-key statement for `key_statement_ttl`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from consent.audit import AuditEvent, AuditLog, EventKind, EventRejected, LeafReceipt, open_engine
from consent.audit.storage import READ_ONLY
from consent.authorisation import (
    AuthorisationStore,
    EnterpriseKeyRegistry,
    FieldCatalogue,
    FieldSpec,
    SignedStatus,
    UnknownEnterpriseKey,
    issue_status,
)
from consent.authorisation.catalogue import data_item
from consent.authorisation.codec import canonical_json
from consent.authorisation.schema import to_epoch
from federation.key_binding import ENTERPRISE_KEY_DOMAIN, sign_statement
from federation.pki import Identity
from federation.proto import verification_pb2
from platform_node.consent_registry.keys import RegistryKeyring
from platform_node.consent_registry.schema import bank_keys, relay_metadata, source_catalogues, source_nodes

log = logging.getLogger("xyd.platform.consent")

PLATFORM = Identity("platform", "main")
RELAYED_KINDS = frozenset({EventKind.VERIFICATION_ANSWERED, EventKind.RAW_DETAIL_SERVED, EventKind.REQUEST_REFUSED})


@dataclass(frozen=True)
class CatalogueEntry:
    """One data item as a source node published it: the provider and the field's declaration."""

    provider: str
    field: FieldSpec

    @property
    def item(self) -> str:
        return data_item(self.provider, self.field.name)


@dataclass(frozen=True)
class SourceEntry:
    """A source node as it announced itself: its address and its certificate-bound keys."""

    party: str
    address: str
    binding: verification_pb2.KeyBinding


def _binding(data: bytes) -> verification_pb2.KeyBinding:
    binding = verification_pb2.KeyBinding()
    binding.ParseFromString(bytes(data))
    return binding


class ConsentRegistry:
    """Everything the registry keeps, over one SQLAlchemy engine (SQLite by default)."""

    def __init__(
        self,
        engine: Engine,
        keyring: RegistryKeyring,
        *,
        identity: Identity = PLATFORM,
        status_ttl: timedelta = timedelta(seconds=60),
        key_statement_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.identity = identity
        self.log = AuditLog(engine)
        self.enterprise_keys = EnterpriseKeyRegistry(engine)
        self.store = AuthorisationStore(
            engine, keys=self.enterprise_keys, audit=self.log, subject_ref_key=keyring.subject_ref_key
        )
        self._status_ttl = status_ttl
        self._key_ttl = key_statement_ttl

    @classmethod
    def open(cls, url: str, key_folder: Path, *, identity: Identity = PLATFORM) -> ConsentRegistry:
        """Open (and create if needed) the registry in database `url` with keys from `key_folder`."""
        registry = cls(open_engine(url), RegistryKeyring.load_or_create(key_folder, identity), identity=identity)
        registry.create_schema()
        return registry

    def create_schema(self) -> None:
        self.log.create_schema()
        self.enterprise_keys.create_schema()
        self.store.create_schema()
        relay_metadata.create_all(self.engine)

    # -- statements for source nodes ---------------------------------------------------------------

    def signed_status(self, authorisation_id: str, *, now: datetime) -> SignedStatus:
        """The current status, signed and valid for `status_ttl`; raises `UnknownAuthorisation`."""
        status = self.store.status(authorisation_id)
        return issue_status(authorisation_id, status, self.keyring.status_signing, issuer=self.identity.party,
                            now=now, ttl=self._status_ttl)

    def enterprise_key_statement(self, credit_code: str, key_id: str, *, now: datetime
                                 ) -> verification_pb2.SignedStatement:
        """The binding of one enterprise key with its dates, signed; raises `UnknownEnterpriseKey`."""
        for key in self.enterprise_keys.keys(credit_code):
            if key.key_id != key_id:
                continue
            statement = verification_pb2.EnterpriseKeyStatement(
                credit_code=credit_code, key_id=key_id,
                public_key=key.public_key.public_bytes_raw(),
                valid_from=to_epoch(key.valid_from), issued_at=to_epoch(now),
                expires_at=to_epoch(now + self._key_ttl),
            )
            if key.valid_until is not None:
                statement.valid_until = to_epoch(key.valid_until)
            if key.revoked_at is not None:
                statement.revoked_at = to_epoch(key.revoked_at)
            return sign_statement(self.keyring.status_signing, ENTERPRISE_KEY_DOMAIN, statement)
        raise UnknownEnterpriseKey(credit_code, key_id)

    # -- directory of source nodes and bank keys ------------------------------------------------------

    def announce(self, party: str, address: str, binding: verification_pb2.KeyBinding, *, now: datetime,
                 catalogue: FieldCatalogue | None = None) -> None:
        """Record where `party` answers (the caller checked the binding is `party`'s own) and, if given, the data
        items it answers about; a catalogue that changed is a `verification_fields_published` leaf with its digest."""
        row = {"address": address, "binding": binding.SerializeToString(), "announced_at": to_epoch(now)}
        with self.engine.begin() as conn:
            # Update first: it takes the write lock, so two announcements of one party cannot both insert.
            if conn.execute(update(source_nodes).where(source_nodes.c.party == party).values(**row)).rowcount == 0:
                conn.execute(insert(source_nodes).values(party=party, **row))
            if catalogue is not None:
                self._publish_catalogue(conn, party, catalogue, now=now)

    def _publish_catalogue(self, conn: Connection, party: str, catalogue: FieldCatalogue, *, now: datetime) -> None:
        if publish_catalogue(conn, self.log, party, catalogue, now=now):
            log.info("catalogue published", extra={"node": party, "fields": len(list(catalogue))})

    def catalogue(self, provider: str | None = None) -> list[CatalogueEntry]:
        """The data items source nodes published (of one provider, or all), by provider and name."""
        return read_catalogue(self.engine, provider)

    def source(self, party: str) -> SourceEntry | None:
        with self.engine.connect().execution_options(**READ_ONLY) as conn:
            row = conn.execute(select(source_nodes).where(source_nodes.c.party == party)).first()
        return None if row is None else SourceEntry(row.party, row.address, _binding(row.binding))

    def sources(self) -> list[SourceEntry]:
        with self.engine.connect().execution_options(**READ_ONLY) as conn:
            rows = conn.execute(select(source_nodes).order_by(source_nodes.c.party)).all()
        return [SourceEntry(row.party, row.address, _binding(row.binding)) for row in rows]

    def register_bank_keys(self, party: str, binding: verification_pb2.KeyBinding, *, issued_at: datetime,
                           now: datetime) -> bool:
        """Keep `binding` for `party` unless a newer one is stored; True if it was stored."""
        row = {"binding": binding.SerializeToString(), "issued_at": to_epoch(issued_at),
               "registered_at": to_epoch(now)}
        with self.engine.begin() as conn:
            newer_or_same = update(bank_keys).where(
                bank_keys.c.party == party, bank_keys.c.issued_at <= row["issued_at"]).values(**row)
            if conn.execute(newer_or_same).rowcount == 1:
                return True
            exists = conn.execute(select(bank_keys.c.party).where(bank_keys.c.party == party)).first()
            if exists is not None:
                return False  # a newer binding is stored: an old one cannot bring back a rotated key
            conn.execute(insert(bank_keys).values(party=party, **row))
            return True

    def bank_binding(self, party: str) -> verification_pb2.KeyBinding | None:
        with self.engine.connect().execution_options(**READ_ONLY) as conn:
            data = conn.execute(select(bank_keys.c.binding).where(bank_keys.c.party == party)).scalar_one_or_none()
        return None if data is None else _binding(data)

    # -- the audit log ---------------------------------------------------------------------------------

    def record_relayed(
        self, leaves: Sequence[bytes], *, provider: str, requester: str, request_id: str
    ) -> list[LeafReceipt]:
        """Append the leaves a source node wrote for one relayed request, byte for byte, in one transaction.

        A leaf that is not about this request, this node and this bank is not appended (and logged): the
        node's own log keeps it, and the audit cross-check reports it as missing from the registry.
        """
        accepted = []
        for leaf in leaves:
            try:
                event = AuditEvent.from_leaf(bytes(leaf))
            except EventRejected as exc:
                log.error("node %s returned a malformed leaf: %s", provider, exc)
                continue
            if (event.kind not in RELAYED_KINDS or event.use_id != request_id or event.source_unit != provider
                    or event.institution != requester):
                log.error("node %s returned a leaf about another request", provider,
                          extra={"request_id": request_id, "kind": event.kind.value})
                continue
            accepted.append(event)
        if not accepted:
            return []
        with self.engine.begin() as conn:
            return [self.log.append(conn, event) for event in accepted]


def publish_catalogue(conn: Connection, audit: AuditLog, party: str, catalogue: FieldCatalogue, *,
                      now: datetime) -> bool:
    """Store `party`'s catalogue in the caller's transaction if it changed, with a `verification_fields_published` leaf
    carrying its digest; True if it changed."""
    document = canonical_json(catalogue.to_json())
    digest = hashlib.sha256(document).hexdigest()
    stored = conn.execute(select(source_catalogues.c.digest).where(source_catalogues.c.party == party)).scalar()
    if stored == digest:
        return False
    values = {"catalogue": document, "digest": digest, "published_at": to_epoch(now)}
    if stored is None:
        conn.execute(insert(source_catalogues).values(party=party, **values))
    else:
        conn.execute(update(source_catalogues).where(source_catalogues.c.party == party).values(**values))
    audit.append(conn, AuditEvent(kind=EventKind.VERIFICATION_FIELDS_PUBLISHED, occurred_at=now, source_unit=party,
                                  digests={"catalogue": digest}))
    return True


def read_catalogue(engine: Engine, provider: str | None = None) -> list[CatalogueEntry]:
    """The published data items in `engine`'s registry tables (of one provider, or all)."""
    query = select(source_catalogues.c.party, source_catalogues.c.catalogue).order_by(source_catalogues.c.party)
    if provider is not None:
        query = query.where(source_catalogues.c.party == provider)
    with engine.connect().execution_options(**READ_ONLY) as conn:
        rows = conn.execute(query).all()
    return [CatalogueEntry(row.party, FieldSpec(f["name"], f["category"], f["sensitivity"], f["value_type"],
                                                f["period"]))
            for row in rows for f in json.loads(bytes(row.catalogue))]
