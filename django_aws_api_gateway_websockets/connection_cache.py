"""The message hot path's per-process memory: what a connection is (its facts never change after ``$connect``),
who its user is, and the messages counted but not yet written.

A MESSAGE event needs the connection's facts (user id, auth hash, endpoint) and its user. Reading them from the
store and the user table for every message costs a round trip or two per message; this module keeps them per
process instead, bounded and for a limited time:

- an LRU of at most ``WEBSOCKETS["CONNECTION_CACHE_SIZE"]`` connections (0 turns the cache off: one store round
  trip and one user lookup per message, as before);
- an entry is trusted for ``CONNECTION_CACHE_TTL`` seconds; the first message after that makes one store round
  trip that writes the messages counted meanwhile (and the last one's time as last-seen) and re-reads the
  connection, which refuses the message when the connection was closed in the meantime (by a ``$disconnect`` that
  another process handled, for example);
- the user is revalidated (exists, is active, same password) every ``USER_REVALIDATE_INTERVAL`` seconds;
- connections this process saw close (``$disconnect``, a 410 from @connections, ``close_connection``, logout)
  are remembered (bounded, for API Gateway's longest connection life): a later message on them is refused
  without asking the store. A connection the store does not know is refused too.

What this trades is in the README ("The message hot path").
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from .conf import ws_settings
from .store.base import Connection, ConnectionStore

# API Gateway closes every connection within 2 hours; ids are never reused. Remembering a closed id longer is
# pointless, and forgetting one early only costs a store round trip (the store still says closed).
CLOSED_MEMORY_SECONDS = 2 * 60 * 60 + 15 * 60

# What ConnectionCache.hit found.
CLOSED, MISS, FRESH = 0, 1, 2

Clock = Callable[[], float]


@dataclass
class _Entry:
    connection: Connection
    fresh_until: float  # clock seconds: re-read from the store after this
    user: Any = None  # the user as last validated; None: not validated yet
    user_valid_until: float = 0.0
    pending: int = 0  # messages accepted since the last write
    last_seen: float = 0.0  # epoch seconds of the newest pending message


@dataclass(frozen=True)
class Activity:
    """Messages counted in memory and not written yet, with the time of the newest one."""

    count: int
    last_seen: datetime


class ConnectionCache:
    """A bounded LRU of connection entries with a TTL, plus a bounded memory of closed connection ids.
    Thread-safe: handlers of one process (a server's threads, the local gateway's pool) share it."""

    # Wall-clock time, not monotonic: a Lambda execution environment is paused between invocations, and what
    # counts here is how much real time went by (a monotonic clock may not advance while the VM is paused).
    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._closed: OrderedDict[str, float] = OrderedDict()

    # Reading ---------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, connection_id: object) -> bool:
        return connection_id in self._entries

    def _closed_here(self, connection_id: str, now: float) -> bool:  # under the lock
        until = self._closed.get(connection_id)
        if until is None:
            return False
        if until <= now:
            del self._closed[connection_id]
            return False
        return True

    def hit(self, connection_id: str) -> tuple[int, Connection | None, Any]:
        """One lookup under one lock: ``(CLOSED, None, None)`` for a connection closed as far as this process
        knows; ``(MISS, None, None)`` when it is not cached or its entry is stale; ``(FRESH, connection, user)``
        otherwise, with one message counted on it and ``user`` the validated user (None: validate it again)."""
        now = self.clock()
        with self._lock:
            if self._closed and self._closed_here(connection_id, now):
                return CLOSED, None, None
            entry = self._entries.get(connection_id)
            if entry is None or entry.fresh_until <= now:
                return MISS, None, None
            self._entries.move_to_end(connection_id)
            entry.pending += 1
            entry.last_seen = time.time()
            return FRESH, entry.connection, entry.user if entry.user_valid_until > now else None

    def take_stale(self, connection_id: str) -> Activity | None:
        """Remove a stale (or any) entry and return the messages it counted but did not write."""
        with self._lock:
            entry = self._entries.pop(connection_id, None)
        return _activity(entry)

    # Writing ---------------------------------------------------------------------------------------------------
    def put(self, connection: Connection, *, pending: int = 0) -> list[tuple[str, Activity]]:
        """Remember ``connection`` (fresh for CONNECTION_CACHE_TTL), with ``pending`` messages not yet written.
        Returns what entries pushed out of the LRU had counted, for the caller to write."""
        now = self.clock()
        entry = _Entry(connection=connection, fresh_until=now + float(ws_settings.CONNECTION_CACHE_TTL),
                       pending=pending, last_seen=time.time() if pending else 0.0)
        limit = max(1, int(ws_settings.CONNECTION_CACHE_SIZE))
        evicted: list[tuple[str, Activity]] = []
        with self._lock:
            if connection.connection_id in self._closed:  # closed by another thread meanwhile
                return evicted
            old = self._entries.pop(connection.connection_id, None)
            if old is not None:  # another thread cached it meanwhile: keep what it counted and validated
                entry.pending += old.pending
                entry.last_seen = max(entry.last_seen, old.last_seen)
                if old.user is not None and old.user_valid_until > now:
                    entry.user, entry.user_valid_until = old.user, old.user_valid_until
            self._entries[connection.connection_id] = entry
            while len(self._entries) > limit:
                cid, dropped = self._entries.popitem(last=False)
                activity = _activity(dropped)
                if activity is not None:
                    evicted.append((cid, activity))
        return evicted

    def set_user(self, connection_id: str, user: Any) -> None:
        interval = float(ws_settings.USER_REVALIDATE_INTERVAL)
        with self._lock:
            entry = self._entries.get(connection_id)
            if entry is not None:
                entry.user, entry.user_valid_until = user, self.clock() + interval

    def forget_user(self, user_id: str) -> None:
        """Validate the user of every cached connection of ``user_id`` again at its next message (the user was
        changed in this process: saved, deactivated, a new password)."""
        with self._lock:
            for entry in self._entries.values():
                if entry.connection.user_id == user_id:
                    entry.user, entry.user_valid_until = None, 0.0

    def closed(self, connection_ids: Iterable[str]) -> dict[str, Activity]:
        """These connections closed: forget them, refuse their later messages here, and return what they had
        counted but not written (for the caller to write)."""
        now = self.clock()
        unwritten: dict[str, Activity] = {}
        limit = max(1000, 2 * int(ws_settings.CONNECTION_CACHE_SIZE))
        with self._lock:
            for connection_id in connection_ids:
                activity = _activity(self._entries.pop(connection_id, None))
                if activity is not None:
                    unwritten[connection_id] = activity
                self._closed.pop(connection_id, None)
                self._closed[connection_id] = now + CLOSED_MEMORY_SECONDS
            while len(self._closed) > limit:
                self._closed.popitem(last=False)
        return unwritten

    def opened(self, connection_id: str) -> None:
        """A ``$connect`` for this id: forget what this process knew of it (API Gateway never reuses an id; tests
        and replays do). Even when the store keeps it closed (its ``$disconnect`` came first), the next message
        asks the store and is refused."""
        with self._lock:
            self._entries.pop(connection_id, None)
            self._closed.pop(connection_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._closed.clear()


def _activity(entry: _Entry | None) -> Activity | None:
    if entry is None or not entry.pending:
        return None
    return Activity(entry.pending, datetime.fromtimestamp(entry.last_seen, tz=dt_timezone.utc))


_cache = ConnectionCache()


def get_cache() -> ConnectionCache:
    return _cache


def enabled() -> bool:
    return int(ws_settings.CONNECTION_CACHE_SIZE) > 0


# The hot path ------------------------------------------------------------------------------------------------------
def open_connection(store: ConnectionStore | Callable[[], ConnectionStore],
                    connection_id: str) -> tuple[Connection | None, Any]:
    """The open connection a message arrived on, its message counted, and its user if this process validated
    it within USER_REVALIDATE_INTERVAL (else None: the caller validates it, then calls :func:`validated`).
    ``(None, None)`` refuses the message: unknown to the store, closed, or closed as far as this process knows.
    At most one store round trip, and none while the cached entry is fresh (``store`` may be a callable, then
    called only when the store is needed)."""
    cache = _cache
    found, connection, user = cache.hit(connection_id)
    if found == FRESH:  # (entries exist only while the cache is on)
        return connection, user
    if found == CLOSED:
        return None, None
    if callable(store):
        store = store()
    if not enabled():
        return store.touch(connection_id), None
    activity = cache.take_stale(connection_id)
    if activity is None:
        connection = store.touch(connection_id)  # counts this message
        pending = 0
    else:
        # Write what was counted meanwhile and re-read; this message is counted at the next write.
        connection = store.record_activity(connection_id, activity.count, activity.last_seen)
        pending = 1
    if connection is None or not connection.connected:
        cache.closed([connection_id])
        return None, None
    write_activity(store, cache.put(connection, pending=pending))
    return connection, None


def validated(connection: Connection, user: Any) -> None:
    """``user`` was just validated for ``connection``: trust it for USER_REVALIDATE_INTERVAL."""
    if enabled():
        _cache.set_user(connection.connection_id, user)


def connection_opened(connection_id: str) -> None:
    """A ``$connect`` for ``connection_id`` ran in this process (see :meth:`ConnectionCache.opened`)."""
    _cache.opened(connection_id)


def connections_closed(connection_ids: Iterable[str], store: ConnectionStore | None = None) -> None:
    """These connections closed (``$disconnect``, a 410 from @connections, a server-side close): forget them here
    and refuse their later messages; what they counted but had not written is written to ``store``."""
    unwritten = _cache.closed(connection_ids)
    if store is not None and unwritten:
        write_activity(store, list(unwritten.items()))


def write_activity(store: ConnectionStore, activities: list[tuple[str, Activity]]) -> None:
    for connection_id, activity in activities:
        store.record_activity(connection_id, activity.count, activity.last_seen)


def reset() -> None:
    """Forget everything (tests; after a SnapStart restore the cache is empty anyway)."""
    _cache.clear()
