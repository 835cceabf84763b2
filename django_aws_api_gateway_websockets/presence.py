"""Presence: groups that announce who joins and leaves, and list who is there.

A group has presence when its name matches one of ``WEBSOCKETS["PRESENCE_GROUPS"]`` (shell-style patterns such
as ``"room:*"``). Its members then receive a ``presence`` event through the normal messaging path
(:func:`~django_aws_api_gateway_websockets.messaging.send_to_group`, gone connections handled as for any send)
whenever a connection joins it, leaves it, or goes away while in it, whichever way it goes: its ``$disconnect``
(a dropped socket included), a close asked by the server, or a post that found it gone (410)::

    {"type": "presence", "event": "joined", "group": "room:lobby",
     "member": {"connectionId": "L0SM9cOFvHcCIhw=", "userId": "42", "name": "alice"}}

A member is what the store kept at ``$connect`` (the connection id, the user id and the name chosen by the
view's ``member_name``): listing members costs one store query and no user lookups. Like every send, an
announcement is delivered at least once: two paths closing the same connection at once may both announce it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from .conf import ws_settings
from .store import Connection, ConnectionStore, get_store

logger = logging.getLogger("django_aws_api_gateway_websockets")

PRESENCE = "presence"
JOINED = "joined"
LEFT = "left"
T = TypeVar("T")


def presence_patterns() -> list[str]:
    patterns = ws_settings.PRESENCE_GROUPS
    return list(patterns) if isinstance(patterns, (list, tuple)) else []


def has_presence(group: str) -> bool:
    """Whether ``group`` announces joins and leaves (it matches a ``PRESENCE_GROUPS`` pattern)."""
    return any(fnmatchcase(group, pattern) for pattern in presence_patterns())


def member(connection: Connection) -> dict[str, Any]:
    """What presence tells about a connection: its id, its user's id (None for anonymous) and its name."""
    return {"connectionId": connection.connection_id, "userId": connection.user_id, "name": connection.user_name}


def presence_event(event: str, group: str, connection: Connection) -> dict[str, Any]:
    return {"type": PRESENCE, "event": event, "group": group, "member": member(connection)}


def announce(event: str, group: str, connection: Connection) -> None:
    """Send a presence event to the group's members; a failure is logged, never raised (a join or a
    ``$disconnect`` must not fail because an announcement could not be sent)."""
    from .messaging import send_to_group  # messaging calls back into this module for gone connections

    try:
        send_to_group(group, presence_event(event, group, connection))
    except Exception:
        logger.exception("Could not announce that %s %s %s", connection.connection_id, event, group)


def members(group: str, store: ConnectionStore | None = None) -> list[dict[str, Any]]:
    """The group's open connections as presence members, ordered by name then connection id."""
    connections = (store or get_store()).group_connections(group)
    return [member(c) for c in sorted(connections, key=lambda c: (c.user_name, c.connection_id))]


async def amembers(group: str, store: ConnectionStore | None = None) -> list[dict[str, Any]]:
    """:func:`members` for async code (the store query runs off the event loop)."""
    return await sync_to_async(members)(group, store)


def close_and_announce(store: ConnectionStore, connection_ids: Iterable[str], close: Callable[[], T]) -> T:
    """Run ``close`` (which ends the given connections and drops their memberships) and announce ``left`` in
    every presence group each open connection was in. Without presence groups this is just ``close()``."""
    if not presence_patterns():
        return close()
    watched: dict[str, list[str]] = {}
    for connection_id in dict.fromkeys(connection_ids):
        groups = [g for g in store.groups_of(connection_id) if has_presence(g)]
        if groups:
            watched[connection_id] = groups
    before = {c.connection_id: c for c in store.get_many(watched)} if watched else {}
    result = close()
    for connection_id, groups in watched.items():
        connection = before.get(connection_id)
        if connection is not None and connection.connected:
            for group in groups:
                announce(LEFT, group, connection)
    return result
