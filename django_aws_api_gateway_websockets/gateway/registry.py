"""The sockets a gateway holds, by connection id."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from ..events import Connection


@dataclass
class LiveSocket:
    ws: web.WebSocketResponse
    connection: Connection
    transport: asyncio.BaseTransport | None = None
    max_buffered_bytes: int = 4 * 1024 * 1024
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    closing_by_server: bool = False
    # Set when the gateway drops the connection itself (a client too slow to read): code and reason.
    dropped: tuple[int, str] | None = None
    buffered: int = 0
    _outbox: deque[str | bytes] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.Task[None] | None = None

    def touch(self) -> None:
        self.last_active = time.time()

    def send(self, data: str | bytes) -> bool:
        """Queue ``data`` for the client and return at once; False (and the connection dropped) when the
        client has left more than ``max_buffered_bytes`` unread."""
        if self.dropped is not None or self.ws.closed:
            return False
        size = len(data)
        if self.buffered + size > self.max_buffered_bytes:
            self.drop(1006, f"Client too slow: over {self.max_buffered_bytes} bytes unread")
            return False
        self.buffered += size
        self._outbox.append(data)
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return True

    def drop(self, code: int, reason: str) -> None:
        """Abort the TCP connection (a close frame could not get through a full buffer either)."""
        if self.dropped is None:
            self.dropped = (code, reason)
            if self.transport is not None:
                self.transport.abort()  # type: ignore[attr-defined]

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                item = self._outbox.popleft()
                try:
                    if isinstance(item, str):
                        await self.ws.send_str(item)
                    else:
                        await self.ws.send_bytes(item)
                except (ConnectionError, RuntimeError):
                    return
                finally:
                    self.buffered -= len(item)

    def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

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
