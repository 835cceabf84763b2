"""Presence: groups that announce who joins and leaves, and list who is there.

A group has presence when its name matches one of ``WEBSOCKETS["PRESENCE_GROUPS"]`` (shell-style patterns such
as ``"room:*"``). Its members then receive a ``presence`` event through the normal messaging path
(:func:`~django_aws_api_gateway_websockets.messaging.send_to_group`, gone connections handled as for any send)
whenever a connection joins it, leaves it, or goes away while in it, whichever way it goes: its ``$disconnect``
(a dropped socket included), a close asked by the server, or a post that found it gone (410)::

    {"type": "presence", "event": "joined", "group": "room:lobby",
     "member": {"connectionId": "L0SM9cOFvHcCIhw=", "userId": "42", "name": "alice"}}

A member is what the store kept at ``$connect`` (the connection id, the user id and the name chosen by the
view's ``anonymous_name`` for guests): listing members costs one bounded store query and no user lookups. A
member list comes in pages (:class:`MemberPage`: at most ``limit`` members and :data:`MAX_PAGE_BYTES` of JSON,
ordered by connection id, with a ``next`` cursor), so a reply stays under API Gateway's 128 KB message limit
however big the group. An announcement reads only what addressing the members needs (their connection ids and
endpoints), once per group for a batch of connections going away, and a group over
``BROADCAST_QUEUE_THRESHOLD`` is announced to through the broadcast queue, as ``send_to_group`` does. Like every
send, an announcement is delivered at least once: two paths closing the same connection at once may both
announce it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from .conf import ws_settings
from .security import CONNECTION_ID_RE
from .store import Connection, ConnectionStore, get_store

logger = logging.getLogger("django_aws_api_gateway_websockets")

PRESENCE = "presence"
JOINED = "joined"
LEFT = "left"
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# The most JSON a page's member list takes (measured with ``ensure_ascii``, the larger of Django's two
# encodings): half of API Gateway's 128 KB message limit, leaving room for the rest of a reply. 100 members
# with typical names take about 8 KB; a page ends early only when names are long and far from ASCII.
MAX_PAGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class MemberPage:
    """One page of a group's members: ``members`` (``{"connectionId", "userId", "name"}`` each, ordered by
    connection id) and ``next``, the cursor to pass as ``after`` for the following page (None on the last)."""

    members: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None

    @property
    def truncated(self) -> bool:
        """Whether more members follow this page."""
        return self.next is not None

    def as_dict(self) -> dict[str, Any]:
        """``{"members": [...], "next": cursor or None}``, ready for a ``JsonResponse``."""
        return {"members": self.members, "next": self.next}


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


def announce(event: str, group: str, connection: Connection, recipients: Sequence[Connection] | None = None) -> None:
    """Send a presence event to the group's members (``recipients`` when the caller has read them already); a
    failure is logged, never raised (a join or a ``$disconnect`` must not fail because an announcement could not
    be sent)."""
    from .messaging import send_to_group, send_to_members  # messaging calls back into this module for gone ones

    try:
        if recipients is None:
            send_to_group(group, presence_event(event, group, connection))
        else:
            send_to_members(recipients, presence_event(event, group, connection))
    except Exception:
        logger.exception("Could not announce that %s %s %s", connection.connection_id, event, group)


def check_page(limit: object = None, after: object = None) -> tuple[int, str | None]:
    """``(limit, after)`` for :func:`members`, the default limit for None; ValueError when ``limit`` is not an
    integer from 1 to :data:`MAX_PAGE_SIZE` or ``after`` is not a cursor from a page's ``next``."""
    if limit is None:
        limit = DEFAULT_PAGE_SIZE
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"'limit' must be an integer from 1 to {MAX_PAGE_SIZE}.")
    if after is not None and not (isinstance(after, str) and CONNECTION_ID_RE.match(after)):
        raise ValueError("'after' must be the 'next' cursor of a member page.")
    return limit, after


def members(group: str, store: ConnectionStore | None = None, *, limit: int | None = None,
            after: str | None = None) -> MemberPage:
    """A page of the group's open connections as presence members, ordered by connection id: at most ``limit``
    (:data:`DEFAULT_PAGE_SIZE` by default, :data:`MAX_PAGE_SIZE` at most) and :data:`MAX_PAGE_BYTES` of JSON,
    starting after the cursor ``after`` (a previous page's ``next``). One bounded store query."""
    size, start = check_page(limit, after)
    found, more = (store or get_store()).group_members_page(group, size, start)
    page: list[dict[str, Any]] = []
    used = 2  # the list's brackets
    for connection in found:
        record = member(connection)
        used += len(json.dumps(record)) + 1
        if page and used > MAX_PAGE_BYTES:
            more = True
            break
        page.append(record)
    return MemberPage(page, page[-1]["connectionId"] if more and page else None)


async def amembers(group: str, store: ConnectionStore | None = None, *, limit: int | None = None,
                   after: str | None = None) -> MemberPage:
    """:func:`members` for async code (the store query runs off the event loop)."""
    return await sync_to_async(members)(group, store, limit=limit, after=after)


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
    leaving: dict[str, list[Connection]] = {}
    for connection_id, groups in watched.items():
        connection = before.get(connection_id)
        if connection is not None and connection.connected:
            for group in groups:
                leaving.setdefault(group, []).append(connection)
    for group, connections in leaving.items():
        # The group's recipients, read once for every connection of this batch that left it (a batch of gone
        # connections would otherwise read the group once per connection).
        try:
            recipients = store.group_recipients(group)
        except Exception:
            logger.exception("Could not read the members of %s to announce who left", group)
            continue
        for connection in connections:
            announce(LEFT, group, connection, recipients)
    return result
