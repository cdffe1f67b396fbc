"""An in-process Flower Grid: the very ServerApp driver and ClientApp, without SuperLink or SuperNodes.

For unit tests and quick simulations. Each message's content is serialised to protobuf and back on the
way in and out, so only what could cross a real wire reaches the other side; a ClientApp exception
comes back as an error reply, as it would from a SuperNode.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.common.serde import recorddict_from_proto, recorddict_to_proto
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

# Error code carried by replies whose ClientApp raised (Flower uses small integers for its own codes).
CLIENT_APP_RAISED = 2
FIRST_NODE_ID = 1001


def _copy(content: RecordDict) -> RecordDict:
    return recorddict_from_proto(recorddict_to_proto(content))


class InProcessGrid(Grid):
    """Runs `client_app` for each node in this process; node ids are assigned in `node_configs` order."""

    def __init__(self, client_app: ClientApp, node_configs: list[Mapping[str, Any]], run_config: Mapping[str, Any],
                 *, run_id: int = 1) -> None:
        self._run = Run.create_empty(run_id)
        self._contexts = {
            FIRST_NODE_ID + i: Context(run_id=run_id, node_id=FIRST_NODE_ID + i, node_config=dict(cfg),
                                       state=RecordDict(), run_config=dict(run_config))
            for i, cfg in enumerate(node_configs)
        }
        self._app = client_app
        self._pending: dict[str, Message] = {}
        self._ids = itertools.count(1)
        # What the SuperLink sets in a ServerApp process before `main` runs.
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, run_id, SUPERLINK_NODE_ID

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str,
                       ttl: float | None = None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            if msg.metadata.dst_node_id not in self._contexts:
                raise ValueError(f"no node {msg.metadata.dst_node_id}")
            message_id = f"m{next(self._ids)}"
            msg.metadata.__dict__["_message_id"] = message_id
            self._pending[message_id] = msg
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = []
        for message_id in list(message_ids):
            msg = self._pending.pop(message_id, None)
            if msg is None:
                continue
            inbound = Message(_copy(msg.content), msg.metadata.dst_node_id, msg.metadata.message_type,
                              group_id=msg.metadata.group_id)
            inbound.metadata.__dict__["_message_id"] = message_id
            try:
                out = self._app(inbound, self._contexts[msg.metadata.dst_node_id])
                reply = Message(_copy(out.content), reply_to=inbound)
            except Exception as exc:  # noqa: BLE001 - a SuperNode reports any ClientApp failure as an error reply
                reply = Message(Error(code=CLIENT_APP_RAISED, reason=f"{type(exc).__name__}: {exc}"), reply_to=inbound)
            replies.append(reply)
        return replies

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))
