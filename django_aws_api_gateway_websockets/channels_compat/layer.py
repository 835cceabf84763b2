"""A Channels channel layer on the connection store and the @connections API: no Redis, no long-running process.

::

    CHANNEL_LAYERS = {"default": {"BACKEND": "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"}}

- A channel is a connection: ``channel_name`` is derived from the API Gateway connection id (:mod:`.names`).
- Groups are the store's groups: ``group_add`` / ``group_discard`` join and leave.
- ``group_send(group, message)`` and ``send(channel, message)`` deliver *now*, in the caller's process: for each
  member, a fresh instance of its consumer (found again from the route path kept at connect) runs the handler
  the message's ``type`` names, with the scope rebuilt from the store, and what the handler sends is posted
  through @connections (gone connections are marked disconnected, as every broadcast does). Frames for the
  connection whose event is being handled go out with that event instead (its reply, or its connect queue).
- ``receive`` exists only for the consumers the bridge runs (it never yields: each message is an event of its
  own); nothing can wait on a channel between events.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer

from ..store import Connection, get_store
from .names import channel_name_for, connection_id_of
from .runner import Frame, Outcome, current_depth, current_event, current_run

logger = logging.getLogger("django_aws_api_gateway_websockets.channels")

MAX_DEPTH = 4  # group_send from a handler run by group_send ...: a cycle stops here, with an error


class ChannelLayer(BaseChannelLayer):
    """The channel layer backend. ``concurrency``: member handlers running at once during a fan-out."""

    extensions = ["groups"]

    def __init__(self, concurrency: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.concurrency = max(1, int(concurrency))

    # Channels ------------------------------------------------------------------------------------------------
    async def new_channel(self, prefix: str = "specific.") -> str:
        """Inside a consumer run by the bridge: that connection's channel. Elsewhere a fresh name that nothing
        will ever receive on (there is no process to receive between events)."""
        running = current_run.get()
        if running is not None:
            return running.channel_name
        return f"{prefix}{uuid.uuid4().hex}!"

    async def receive(self, channel: str) -> dict[str, Any]:
        running = current_run.get()
        if running is None or running.channel_name != channel:
            raise NotImplementedError(
                "receive() is not available on API Gateway: no process waits on a channel between events. "
                "Send to the channel (or its group) instead; the consumer's handler runs at once.")
        await asyncio.Event().wait()  # never: the consumer stops when its event's message was handled
        raise AssertionError("unreachable")

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        connection_id = self._connection_id(channel)
        await sync_to_async(get_store().join)(connection_id, group)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        connection_id = self._connection_id(channel)
        await sync_to_async(get_store().leave)(connection_id, group)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)
        self._check_message(message)
        store = get_store()
        members = await sync_to_async(store.group_connections)(group)
        await self.deliver(members, message)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self._check_message(message)
        connection_id = self._connection_id(channel)
        connection = await sync_to_async(get_store().get)(connection_id)
        if connection is None or not connection.connected:
            logger.info("send() to %s: the connection is gone; message dropped", channel)
            return
        await self.deliver([connection], message)

    async def flush(self) -> None:
        raise NotImplementedError("flush() is not supported: groups live in the connection store.")

    # Delivery ------------------------------------------------------------------------------------------------
    async def deliver(self, members: list[Connection], message: dict[str, Any]) -> None:
        """Run ``message``'s handler for each member connection and send what the handlers sent."""
        from . import delivery

        if not members:
            return
        event = current_event.get()
        depth = current_depth.get()
        if depth >= MAX_DEPTH:
            raise RecursionError(f"group_send/send nested {depth} deep (a handler sending to its own group?)")
        if any(delivery.SCOPE_KEY not in m.data for m in members):  # a store listing endpoints only (DynamoDB)
            members = await sync_to_async(delivery.with_scope_data)(members)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(member: Connection) -> tuple[Connection, Outcome | None]:
            async with semaphore:
                return member, await delivery.run_handler(member, copy.deepcopy(message), depth + 1)

        outgoing: list[tuple[Connection, list[Frame]]] = []
        closing: list[tuple[Connection, int | None]] = []
        for member, outcome in await asyncio.gather(*(one(m) for m in members)):
            if outcome is None:
                continue
            if event is not None and member.connection_id == event.connection_id:
                event.outbox.extend(outcome.frames)  # with the event's own reply / connect queue
                if outcome.closed and event.close is None:
                    event.close = outcome
                continue
            outgoing.append((member, outcome.frames))
            if outcome.closed:
                closing.append((member, outcome.close_code))
        if any(frames for _, frames in outgoing):
            await sync_to_async(delivery.post_frames)(outgoing)
        for member, code in closing:
            await sync_to_async(delivery.close)(member, code)

    # Helpers -------------------------------------------------------------------------------------------------
    def _connection_id(self, channel: str) -> str:
        connection_id = connection_id_of(channel)
        if connection_id is None:
            raise TypeError(f"{channel!r} is not a channel of this layer (expected what new_channel() gave, "
                            f"such as {channel_name_for('AbCdEf123456=')!r}).")
        return connection_id

    @staticmethod
    def _check_message(message: Any) -> None:
        if not isinstance(message, dict):
            raise TypeError("A channel layer message must be a dict.")
        kind = message.get("type")
        if not isinstance(kind, str) or not kind or kind.startswith("_"):
            raise ValueError("A channel layer message needs a 'type' naming a handler, such as 'chat.message'.")
