"""The connection store interface: every read and write of connection state goes through it."""

from __future__ import annotations

import abc
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone


MAX_GROUP_NAME = 150


class InvalidGroupName(ValueError):
    """A group name that no store accepts."""


def _is_control(char: str) -> bool:
    # Cc: C0/C1 controls and DEL (NUL fails on PostgreSQL); Cs: lone surrogates (not encodable as UTF-8);
    # Zl/Zp: line and paragraph separators. Cf (format characters such as zero-width space) are refused
    # too: names that look identical but differ are a spoofing tool.
    return unicodedata.category(char) in ("Cc", "Cs", "Cf", "Zl", "Zp")


def check_group_name(group: object) -> str:
    """``group`` if it is a usable group name: a string of 1 to 150 characters without control characters,
    lone surrogates or invisible format characters; :class:`InvalidGroupName` otherwise."""
    if not isinstance(group, str) or not 1 <= len(group) <= MAX_GROUP_NAME:
        raise InvalidGroupName(f"A group name must be a string of 1 to {MAX_GROUP_NAME} characters.")
    if any(_is_control(char) for char in group):
        raise InvalidGroupName("A group name may not contain control, format or unpaired surrogate characters.")
    return group


def clean_text(value: object, max_length: int) -> str:
    """Free text from a client (a user agent, a close reason) as it can be stored anywhere: controls and
    lone surrogates dropped, cut to ``max_length``."""
    if not isinstance(value, str):
        return ""
    if value.isprintable():
        return value[:max_length]
    return "".join(c for c in value if not _is_control(c))[:max_length]


@dataclass(frozen=True)
class Connection:
    """What is known about one WebSocket connection, whatever the backend."""

    connection_id: str
    api_id: str = ""
    stage: str = ""
    domain_name: str = ""
    user_id: str | None = None
    user_name: str = ""
    auth_hash: str = ""
    connected: bool = True
    client_ip: str | None = None
    user_agent: str = ""
    connected_at: datetime = field(default_factory=timezone.now)
    # Application data kept with the connection: a small JSON object of top-level keys, written at connect and
    # changed with ``update_data`` / ``pop_data`` (the Channels bridge keeps its scope and state here).
    data: dict[str, Any] = field(default_factory=dict, hash=False)


class ConnectionStore(abc.ABC):
    """Backend interface, selected by ``WEBSOCKETS["STORE"]`` (like Django's session engines)."""

    @abc.abstractmethod
    def connect(self, connection: Connection) -> None:
        """Record a new connection. Idempotent: a repeated connect for the same id changes nothing."""

    @abc.abstractmethod
    def disconnect(self, connection_id: str, status_code: int | None = None, reason: str = "") -> bool:
        """Mark a connection disconnected. Idempotent; unknown ids are tolerated. True if it was open."""

    @abc.abstractmethod
    def get(self, connection_id: str) -> Connection | None:
        """The connection, connected or not, or None when unknown."""

    @abc.abstractmethod
    def record_message(self, connection_id: str) -> None:
        """Count one message and refresh last-seen."""

    def touch(self, connection_id: str) -> Connection | None:
        """The hot path of every message: count it and return the connection, or None when it is unknown or
        disconnected (then nothing is counted). Backends override this with a single round trip."""
        connection = self.get(connection_id)
        if connection is None or not connection.connected:
            return None
        self.record_message(connection_id)
        return connection

    def record_activity(self, connection_id: str, count: int, last_seen: datetime) -> Connection | None:
        """Write what the message hot path counted in memory: ``count`` more messages and last-seen moved forward to
        ``last_seen`` (also on a connection closed meanwhile: those messages were accepted while it was open).
        Returns the connection when it is still open, None when closed or unknown. Backends override this with a
        single round trip."""
        for _ in range(count):
            self.record_message(connection_id)
        connection = self.get(connection_id)
        return connection if connection is not None and connection.connected else None

    @abc.abstractmethod
    def mark_gone(self, connection_ids: Iterable[str]) -> int:
        """Mark many connections disconnected in one batched write; return how many changed."""

    @abc.abstractmethod
    def join(self, connection_id: str, group: str) -> None: ...

    @abc.abstractmethod
    def leave(self, connection_id: str, group: str) -> None: ...

    @abc.abstractmethod
    def groups_of(self, connection_id: str) -> list[str]: ...

    @abc.abstractmethod
    def group_connections(self, group: str) -> list[Connection]:
        """Connected members of ``group``."""

    def group_members_page(self, group: str, limit: int, after: str | None = None) -> tuple[list[Connection], bool]:
        """At most ``limit`` connected members of ``group``, ordered by connection id, starting after the connection
        id ``after`` (from the start when None); and whether more follow. Only ``connection_id``, ``user_id`` and
        ``user_name`` need to be filled in. Backends override this with one bounded read; this default reads the
        whole group."""
        found = sorted((c for c in self.group_connections(group) if after is None or c.connection_id > after),
                       key=lambda c: c.connection_id)
        return found[:limit], len(found) > limit

    def group_recipients(self, group: str) -> list[Connection]:
        """What a send to ``group`` needs of each connected member: its ``connection_id`` and the facts its
        @connections endpoint comes from (``api_id``, ``stage``, ``domain_name``); other fields may be left at
        their defaults. Backends override this with a narrower read than :meth:`group_connections`."""
        return self.group_connections(group)

    @abc.abstractmethod
    def user_connections(self, user_id: str) -> list[Connection]:
        """Connected connections of a user."""

    @abc.abstractmethod
    def purge(self, older_than: datetime) -> int:
        """Remove disconnected connections that ended before ``older_than``; return how many."""

    @abc.abstractmethod
    def use_token(self, token_id: str, expires_at: datetime) -> bool:
        """Record that a connect token was used: True the first time, False for a replay."""

    # Connection data (additive: a backend that predates it inherits these, built on get/connect) ----------------
    def get_many(self, connection_ids: Iterable[str]) -> list[Connection]:
        """The known connections among ``connection_ids`` (connected or not), in no particular order; backends
        override this with one batched read."""
        found = (self.get(cid) for cid in dict.fromkeys(connection_ids))
        return [c for c in found if c is not None]

    def update_data(self, connection_id: str, changes: Mapping[str, Any]) -> bool:
        """Set top-level keys of the connection's ``data`` (a value of None removes the key), leaving the other
        keys as they are. False when the connection is unknown."""
        raise NotImplementedError(f"{type(self).__name__} does not keep connection data")

    def pop_data(self, connection_id: str, key: str) -> Any:
        """Remove ``data[key]`` and return what it held (None when absent), atomically: of two concurrent
        callers, only one gets the value."""
        raise NotImplementedError(f"{type(self).__name__} does not keep connection data")
