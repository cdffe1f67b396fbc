"""The registry's store of signed artefacts and their status, on SQLAlchemy Core (SQLite or PostgreSQL).

Every write (arrival, each transition) runs in one transaction together with its transition row and its audit
leaf. Status changes are compare-and-set on the previous status, so two concurrent writers cannot both move
an artefact out of the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from consent.audit.events import AuditEvent, EventKind
from consent.audit.storage import READ_ONLY
from consent.authorisation.audit_sink import AuditSink, leaf_actor, subject_ref
from consent.authorisation.codec import format_time
from consent.authorisation.errors import (
    DuplicateAuthorisation,
    InvalidTerms,
    StaleStatus,
    UnknownAuthorisation,
)
from consent.authorisation.key_registry import EnterpriseKeyLookup
from consent.authorisation.lifecycle import Status, Transition, TransitionReason, check_transition
from consent.authorisation.schema import (
    authorisations,
    from_epoch,
    registry_metadata,
    to_epoch,
    transitions,
)
from consent.authorisation.signatures import SignedTerms
from consent.authorisation.terms import Terms


@dataclass(frozen=True)
class AuthorisationRecord:
    """An artefact as the registry holds it: the signed bytes, the parsed terms and the current status."""

    artefact: SignedTerms
    terms: Terms
    status: Status
    registered_at: datetime
    updated_at: datetime


# Called inside the transaction of every recorded change (arrival included) with its leaf's receipt: the
# platform queues the grantee's webhook there, so the notice commits with the change or not at all.
ChangeListener = Callable[[Connection, Transition, Terms, object], None]


class AuthorisationStore:
    """Signed artefacts and their lifecycle. `register` verifies the enterprise signature before storing.

    Writes take an optional `conn`: given, they run inside the caller's transaction (so a platform can record
    a consent request's change with them in one commit); else in their own."""

    def __init__(
        self,
        engine: Engine,
        *,
        keys: EnterpriseKeyLookup,
        audit: AuditSink,
        subject_ref_key: bytes | None = None,
    ) -> None:
        """`subject_ref_key`, if given, lets leaves carry a keyed reference to the enterprise (for
        compliance queries by enterprise) without holding its credit code."""
        self._engine = engine
        self._keys = keys
        self._audit = audit
        self._subject_ref_key = subject_ref_key
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        """Have `listener(conn, change, terms, receipt)` run in the transaction of every later change."""
        self._listeners.append(listener)

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.begin() as own:
            yield own

    def create_schema(self) -> None:
        registry_metadata.create_all(self._engine, tables=[authorisations, transitions])

    def register(self, artefact: SignedTerms, *, actor: str, now: datetime, conn: Connection | None = None,
                 digests: Mapping[str, str] | None = None, clock_skew: timedelta = timedelta(0)) -> Terms:
        """Store a newly signed artefact as PENDING after checking its signature with the key valid at signing.

        The signing time may not lie in the future (beyond `clock_skew` between the signer's clock and this
        one): a registry that records arrival bounds how far a holder of a later-compromised key could back-date.
        """
        terms = artefact.check_shape()
        signed_at = artefact.signed_at
        if signed_at > now + clock_skew:
            raise InvalidTerms(f"artefact signed in the future ({format_time(signed_at)})")
        key = self._keys.key_for(terms.subject.credit_code, artefact.key_id, at=signed_at)
        artefact.verify_with(key)
        arrival = Transition(terms.id, None, Status.PENDING, actor, TransitionReason.SUBMITTED, now)
        try:
            with self._writing(conn) as c, c.begin_nested():
                c.execute(
                    insert(authorisations).values(
                        id=terms.id,
                        credit_code=terms.subject.credit_code,
                        grantee=terms.grantee,
                        payload=artefact.payload,
                        signature=artefact.signature,
                        not_after=to_epoch(terms.not_after),
                        status=Status.PENDING.value,
                        registered_at=to_epoch(now),
                        updated_at=to_epoch(now),
                    )
                )
                self._record(c, arrival, EventKind.AUTHORISATION_CREATED, terms, digests)
        except IntegrityError as exc:
            raise DuplicateAuthorisation(terms.id) from exc
        return terms

    def transition(
        self, authorisation_id: str, target: Status, *, actor: str, reason: TransitionReason, now: datetime,
        conn: Connection | None = None, digests: Mapping[str, str] | None = None,
    ) -> Transition:
        """Move an artefact to `target` if the pair is allowed; raises `IllegalTransition`,
        `UnknownAuthorisation`, or `StaleStatus` if another writer changed it meanwhile. `digests` go into the
        leaf (e.g. of the enterprise's signed instruction)."""
        with self._writing(conn) as conn:
            # Write first: SQLite then takes its write lock before the read, and PostgreSQL locks the row,
            # so concurrent writers queue instead of failing on a stale snapshot.
            touched = conn.execute(
                update(authorisations)
                .where(authorisations.c.id == authorisation_id)
                .values(updated_at=authorisations.c.updated_at)
            )
            if touched.rowcount != 1:
                raise UnknownAuthorisation(authorisation_id)
            row = conn.execute(
                select(authorisations.c.status, authorisations.c.payload).where(
                    authorisations.c.id == authorisation_id
                )
            ).one()
            source = Status(row.status)
            check_transition(source, target)
            change = Transition(authorisation_id, source, Status(target), actor, reason, now)
            done = conn.execute(
                update(authorisations)
                .where(and_(authorisations.c.id == authorisation_id, authorisations.c.status == source.value))
                .values(status=change.target.value, updated_at=to_epoch(now))
            )
            if done.rowcount != 1:
                raise StaleStatus(authorisation_id)
            terms = SignedTerms(bytes(row.payload), b"").terms
            self._record(conn, change, EventKind.AUTHORISATION_STATUS_CHANGED, terms, digests)
        return change

    def expire_due(self, *, actor: str, now: datetime) -> list[str]:
        """Move every ACTIVE or PAUSED artefact whose window has ended to EXPIRED; returns their ids.

        The gate checks the window itself, so this sweep is bookkeeping, not a precondition of safety.
        """
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            due = conn.execute(
                select(authorisations.c.id).where(
                    and_(
                        authorisations.c.status.in_([Status.ACTIVE.value, Status.PAUSED.value]),
                        authorisations.c.not_after <= to_epoch(now),
                    )
                )
            ).scalars().all()
        expired = []
        for authorisation_id in due:
            try:
                self.transition(
                    authorisation_id, Status.EXPIRED, actor=actor, reason=TransitionReason.WINDOW_ENDED, now=now
                )
            except StaleStatus:
                continue
            expired.append(authorisation_id)
        return expired

    def status(self, authorisation_id: str) -> Status:
        """The current status; raises `UnknownAuthorisation`."""
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            value = conn.execute(
                select(authorisations.c.status).where(authorisations.c.id == authorisation_id)
            ).scalar_one_or_none()
        if value is None:
            raise UnknownAuthorisation(authorisation_id)
        return Status(value)

    def get(self, authorisation_id: str, *, conn: Connection | None = None) -> AuthorisationRecord:
        """The stored artefact with its status; raises `UnknownAuthorisation`."""
        query = select(authorisations).where(authorisations.c.id == authorisation_id)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self._engine.connect().execution_options(**READ_ONLY) as own:
                row = own.execute(query).first()
        if row is None:
            raise UnknownAuthorisation(authorisation_id)
        return _to_record(row)

    def find(
        self, *, credit_code: str | None = None, grantee: str | None = None, status: Status | None = None
    ) -> list[AuthorisationRecord]:
        """Artefacts matching every given filter, oldest registration first."""
        query = select(authorisations).order_by(authorisations.c.registered_at, authorisations.c.id)
        if credit_code is not None:
            query = query.where(authorisations.c.credit_code == credit_code)
        if grantee is not None:
            query = query.where(authorisations.c.grantee == grantee)
        if status is not None:
            query = query.where(authorisations.c.status == Status(status).value)
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            rows = conn.execute(query).all()
        return [_to_record(row) for row in rows]

    def history(self, authorisation_id: str) -> list[Transition]:
        """Every recorded transition of an artefact, in order, starting with its arrival."""
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            rows = conn.execute(
                select(transitions)
                .where(transitions.c.authorisation_id == authorisation_id)
                .order_by(transitions.c.seq)
            ).all()
        return [
            Transition(
                row.authorisation_id,
                None if row.source is None else Status(row.source),
                Status(row.target),
                row.actor,
                TransitionReason(row.reason),
                from_epoch(row.at),
            )
            for row in rows
        ]

    def _record(self, conn, change: Transition, kind: EventKind, terms: Terms,
                digests: Mapping[str, str] | None = None) -> None:
        conn.execute(
            insert(transitions).values(
                authorisation_id=change.authorisation_id,
                source=None if change.source is None else change.source.value,
                target=change.target.value,
                actor=change.actor,
                reason=change.reason.value,
                at=to_epoch(change.at),
            )
        )
        event = AuditEvent(
            kind=kind,
            occurred_at=change.at,
            authorisation_id=change.authorisation_id,
            institution=terms.grantee,
            actor=leaf_actor(change.actor),
            status_from=None if change.source is None else change.source.value,
            status_to=change.target.value,
            reason_code=change.reason.value,
            purpose=terms.purpose.value,
            mode=terms.mode.value,
            subject_ref=subject_ref(self._subject_ref_key, terms.subject.credit_code),
            digests=dict(digests or {}),
        )
        receipt = self._audit.append(conn, event)
        for listener in self._listeners:
            listener(conn, change, terms, receipt)


def _to_record(row) -> AuthorisationRecord:
    artefact = SignedTerms(bytes(row.payload), bytes(row.signature))
    return AuthorisationRecord(
        artefact=artefact,
        terms=artefact.terms,
        status=Status(row.status),
        registered_at=from_epoch(row.registered_at),
        updated_at=from_epoch(row.updated_at),
    )
