"""Getting what consumers send onto API Gateway: @connections posts, closes, and the connect queue.

API Gateway refuses posts to a connection (410) until its ``$connect`` integration has returned, so frames a
consumer sends while connecting are queued in the store (``Connection.data["channels_pending"]``) and sent
as soon as the socket is open: a background thread asks API Gateway (GetConnection) until the connection
exists, then takes the queue (atomically, so it is sent once) and posts it in order. Whatever has not gone
by then (a Lambda container frozen after ``$connect`` returned, a socket slower than
``CHANNELS_CONNECT_FLUSH_TIMEOUT``) goes first at the connection's next event, before anything else.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections

from .. import messaging
from ..conf import ws_settings
from ..store import Connection, get_store
from .names import channel_name_for
from .routing import get_routing
from .runner import Frame, Outcome, current_depth, run_consumer
from .scope import ATTRS_KEY, PENDING_KEY, SCOPE_KEY, STATE_KEY, canonical, encode_state, event_scope

logger = logging.getLogger("django_aws_api_gateway_websockets.channels")


# Running a handler for a member --------------------------------------------------------------------------------
def with_scope_data(members: Sequence[Connection]) -> list[Connection]:
    """Members with the data their scope is rebuilt from (a store's group listing may carry only endpoints)."""
    missing = [m.connection_id for m in members if SCOPE_KEY not in m.data]
    if not missing:
        return list(members)
    fetched = {c.connection_id: c for c in get_store().get_many(missing) if c.connected}
    complete = [m if SCOPE_KEY in m.data else fetched.get(m.connection_id) for m in members]
    result = [m for m in complete if m is not None and SCOPE_KEY in m.data]
    if len(result) < len(members):
        logger.info("%d member(s) skipped: not connected through the Channels bridge", len(members) - len(result))
    return result


async def run_handler(member: Connection, message: dict[str, Any], depth: int) -> Outcome | None:
    """Run the handler ``message["type"]`` names on a fresh consumer for ``member``; None when its route is gone."""
    scope = event_scope(member)
    if scope is None:
        return None
    resolved = get_routing().resolve(scope["path"])
    if resolved is None:
        logger.warning("No consumer route for %s any more (connection %s); message %r not delivered",
                       scope["path"], member.connection_id, message.get("type"))
        return None
    scope.update(url_route=resolved.url_route, path_remaining=resolved.path_remaining)
    current_depth.set(depth)  # this task's own context: a group_send from the handler nests one level deeper
    before = snapshot(member)
    outcome = await run_consumer(resolved.app, scope, message, channel_name_for(member.connection_id),
                                 attributes=member.data.get(ATTRS_KEY))
    if outcome.error is not None:
        logger.error("Consumer %s raised in %r for %s", getattr(resolved.consumer_class, "__name__", resolved.app),
                     message.get("type"), member.connection_id, exc_info=outcome.error)
    try:
        changes = state_changes(scope, outcome, before)
    except (TypeError, ValueError):
        logger.exception("State of %s not kept", member.connection_id)
    else:
        if changes:  # most handlers change nothing: no store write, no hop to the database thread
            await sync_to_async(get_store().update_data)(member.connection_id, changes)
    return outcome


def snapshot(connection: Connection) -> tuple[str, str]:
    """The kept state and attributes as stored, to tell afterwards whether the event changed them."""
    return canonical(connection.data.get(STATE_KEY, {})), canonical(connection.data.get(ATTRS_KEY, {}))


def state_changes(scope: dict[str, Any], outcome: Outcome, before: tuple[str, str]) -> dict[str, Any]:
    """What to write to keep ``scope["connection_state"]`` and the consumer's attributes, if the event changed
    them; a clear error if they cannot be kept (not JSON, too big)."""
    changes: dict[str, Any] = {}
    state = encode_state(scope.get("connection_state"))
    if state != before[0]:
        changes[STATE_KEY] = json.loads(state)
    if outcome.attributes is not None:
        attributes = encode_state(outcome.attributes, f"the attributes of {scope.get('path')}'s consumer")
        if attributes != before[1]:
            changes[ATTRS_KEY] = json.loads(attributes)
    return changes


# Posting -------------------------------------------------------------------------------------------------------
def post_frames(items: Sequence[tuple[Connection, Sequence[Frame]]]) -> messaging.SendResult:
    """Post each connection's frames in order; identical frames in the same position go in one broadcast.
    A connection's queued connect frames go first."""
    total = messaging.SendResult()
    queues: list[tuple[Connection, list[Frame]]] = []
    closing: list[tuple[Connection, int]] = []
    for connection, frames in items:
        queued = take_pending(connection) if PENDING_KEY in connection.data else None
        if queued is not None and queued[1] is not None:  # closed by its consumer while connecting
            queues.append((connection, queued[0]))
            closing.append((connection, queued[1]))
            continue
        queues.append((connection, [*(queued[0] if queued else []), *frames]))
    for position in range(max((len(f) for _, f in queues), default=0)):
        by_payload: dict[bytes, list[Connection]] = defaultdict(list)
        for connection, frames in queues:
            if position < len(frames):
                by_payload[frames[position].payload].append(connection)
        for payload, connections in by_payload.items():
            result = messaging.broadcast_payload(connections, payload)
            total.sent += result.sent
            total.gone += result.gone
            total.failed += result.failed
            total.gone_ids += result.gone_ids
            total.failed_ids += result.failed_ids
    for connection, code in closing:
        close(connection, code)
    return total


def close(connection: Connection, code: int | None = None) -> None:
    """Close the socket (API Gateway's DeleteConnection: the client sees 1000, whatever ``code`` was asked)."""
    try:
        messaging.close_connection(connection)
    except Exception:
        logger.exception("Could not close %s (consumer asked for code %s)", connection.connection_id, code)
    else:
        logger.info("Closed %s for its consumer (asked for code %s; API Gateway closes with 1000)",
                    connection.connection_id, code)


# The connect queue -------------------------------------------------------------------------------------------
def encode_pending(frames: Sequence[Frame], close_code: int | None) -> dict[str, Any]:
    size = sum(len(f.payload) for f in frames)
    if size > messaging.MAX_PAYLOAD_BYTES:
        raise ValueError(f"Frames sent while connecting total {size} bytes; at most "
                         f"{messaging.MAX_PAYLOAD_BYTES} can wait for the socket to open.")
    return {"frames": [{"t": f.text} if f.text is not None else {"b": base64.b64encode(f.data or b"").decode()}
                       for f in frames], "close": close_code}


def _decode_pending(value: Any) -> tuple[list[Frame], int | None]:
    if not isinstance(value, dict):
        return [], None
    frames = [Frame(text=f["t"]) if "t" in f else Frame(data=base64.b64decode(f.get("b", "")))
              for f in value.get("frames", []) if isinstance(f, dict)]
    code = value.get("close")
    return frames, code if isinstance(code, int) else None


def take_pending(connection: Connection) -> tuple[list[Frame], int | None] | None:
    """Take (atomically) the frames queued at connect, and the close code if the consumer also closed."""
    value = get_store().pop_data(connection.connection_id, PENDING_KEY)
    return None if value is None else _decode_pending(value)


def flush_pending(connection: Connection) -> bool:
    """Send what was queued at connect (then close, if asked). True when something was sent."""
    queued = take_pending(connection)
    if queued is None:
        return False
    frames, close_code = queued
    if frames:
        try:
            post_frames([(_without_pending(connection), frames)])
        except Exception:
            get_store().update_data(connection.connection_id, {PENDING_KEY: encode_pending(frames, close_code)})
            raise  # put back for the next attempt, not lost
    if close_code is not None:
        close(connection, close_code)
    return True


def _without_pending(connection: Connection) -> Connection:
    from dataclasses import replace

    return replace(connection, data={k: v for k, v in connection.data.items() if k != PENDING_KEY})


def schedule_connect_flush(connection: Connection) -> threading.Thread:
    """Send the connect queue once API Gateway has opened the socket, from a background thread."""
    thread = threading.Thread(target=_flush_when_open, args=(connection,), name="ws-connect-flush", daemon=True)
    thread.start()
    return thread


def _flush_when_open(connection: Connection) -> None:
    deadline = time.monotonic() + float(ws_settings.CHANNELS_CONNECT_FLUSH_TIMEOUT)
    delay = 0.01
    try:
        while True:
            try:
                if messaging.connection_info(connection) is not None:
                    flush_pending(connection)
                    return
            except Exception:  # left in the store: it goes with the connection's next event
                logger.exception("Connect queue of %s not sent now", connection.connection_id)
                return
            if time.monotonic() + delay > deadline:
                logger.warning("Connect queue of %s: the socket did not open within %ss; it goes with the "
                               "connection's next event", connection.connection_id,
                               ws_settings.CHANNELS_CONNECT_FLUSH_TIMEOUT)
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    finally:
        connections.close_all()  # this thread's own database connections, if the store opened any
