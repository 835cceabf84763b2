"""The sockets a gateway holds, by connection id."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from ..events import Connection


@dataclass
class LiveSocket:
    ws: web.WebSocketResponse
    connection: Connection
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    closing_by_server: bool = False

    def touch(self) -> None:
        self.last_active = time.time()

    def info(self) -> dict[str, object]:
        """The GetConnection answer, in API Gateway's wire format."""

        def iso(ts: float) -> str:
            return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

        return {
            "connectedAt": iso(self.connected_at),
            "identity": {"sourceIp": self.connection.source_ip, "userAgent": self.connection.user_agent},
            "lastActiveAt": iso(self.last_active),
        }


class Registry:
    def __init__(self) -> None:
        self._sockets: dict[str, LiveSocket] = {}

    def add(self, socket: LiveSocket) -> None:
        self._sockets[socket.connection.connection_id] = socket

    def remove(self, connection_id: str) -> None:
        self._sockets.pop(connection_id, None)

    def get(self, connection_id: str) -> LiveSocket | None:
        socket = self._sockets.get(connection_id)
        if socket is None or socket.ws.closed:
            return None
        return socket

    def __len__(self) -> int:
        return len(self._sockets)

    def all(self) -> list[LiveSocket]:
        return list(self._sockets.values())
