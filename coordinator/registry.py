"""The node registry: which parties exist, where their mailboxes listen and what schema they publish."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from coordinator.jobs.store import add_missing_columns, metadata
from errors import NotFound
from federation.proto import control_pb2

nodes = sa.Table(
    "nodes", metadata,
    sa.Column("party", sa.String(128), primary_key=True),
    sa.Column("address", sa.String(256), nullable=False),
    sa.Column("description", sa.LargeBinary, nullable=False),
    sa.Column("registered_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, default=0.0, server_default="0"),
)


@dataclass(frozen=True)
class RegisteredNode:
    party: str
    address: str
    description: control_pb2.NodeDescription
    registered_at: float
    last_seen: float = 0.0


class UnknownParty(NotFound):
    """A job named a party that has not registered with the coordinator."""


class NodeRegistry:
    """Registered nodes keyed by the party named in their certificate."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        add_missing_columns(engine, nodes)

    def register(self, party: str, address: str, description: control_pb2.NodeDescription,
                 *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        blob = description.SerializeToString()
        with self.engine.begin() as conn:
            updated = conn.execute(nodes.update().where(nodes.c.party == party)
                                   .values(address=address, description=blob, registered_at=now,
                                           last_seen=now)).rowcount
            if not updated:
                conn.execute(nodes.insert().values(party=party, address=address, description=blob, registered_at=now,
                                                   last_seen=now))

    def seen(self, party: str, *, now: float | None = None) -> None:
        """Note that `party` answered the coordinator just now."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            conn.execute(nodes.update().where(nodes.c.party == party).values(last_seen=now))

    def all(self) -> list[RegisteredNode]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(nodes).order_by(nodes.c.party)).all()
        return [RegisteredNode(r.party, r.address, control_pb2.NodeDescription.FromString(r.description),
                               r.registered_at, r.last_seen) for r in rows]

    def address_of(self, party: str) -> str:
        with self.engine.connect() as conn:
            address = conn.execute(sa.select(nodes.c.address).where(nodes.c.party == party)).scalar()
        if address is None:
            raise UnknownParty(f"{party} has not registered with the coordinator")
        return address
