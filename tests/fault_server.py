"""A small real HTTP server speaking the @connections wire format, for faults moto cannot produce.

The connection id picks the behaviour: ``gone-*`` -> 410 GoneException, ``forbidden-*`` -> 403
ForbiddenException, ``bad-*`` -> 400 BadRequestException, ``big-*`` -> 413 PayloadTooLargeException, ``throttle<N>-*`` -> 429
LimitExceededException for the first N posts then 200, ``drop<N>-*`` -> the connection is closed without an
answer for the first N posts, ``slow-*`` -> 200 after 50 ms, ``opening<N>-*`` -> 410 for the first N GETs and
posts (a socket API Gateway has not opened yet), ``cut-*`` -> the post is delivered and its 200 status line and
headers sent, then the connection is reset mid-body, anything else -> 200.
Every accepted post is recorded, so tests can check nothing was lost.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

_PATH_RE = re.compile(r"^(?:/[^@]*)?/@connections/([^/?]+)$")


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a broadcast opens dozens of connections at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.attempts: Counter[str] = Counter()
        self.deleted: list[str] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.attempts.clear()
            self.deleted.clear()
            self.paths.clear()
            self.headers.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FaultServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, error_type: str | None = None, payload: dict[str, Any] | None = None) -> None:
        body = json.dumps(payload if payload is not None else ({"message": error_type} if error_type else {})).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _connection_id(self) -> str | None:
        match = _PATH_RE.match(self.path)
        return unquote(match.group(1)) if match else None

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        connection_id = self._connection_id()
        if connection_id is None:
            return self._reply(404, "NotFoundException")
        with self.server.lock:
            self.server.paths.append(self.path)
            self.server.headers.append(dict(self.headers.items()))
            self.server.attempts[connection_id] += 1
            attempt = self.server.attempts[connection_id]
        if connection_id.startswith("gone-") or self._still_opening(connection_id):
            return self._reply(410, "GoneException")
        if connection_id.startswith("forbidden-"):
            return self._reply(403, "ForbiddenException")
        if connection_id.startswith("bad-"):
            return self._reply(400, "BadRequestException")
        if connection_id.startswith("big-"):
            return self._reply(413, "PayloadTooLargeException")
        drop = re.match(r"^drop(\d+)-", connection_id)
        if drop and attempt <= int(drop.group(1)):
            self.close_connection = True  # hang up without answering, like a stale keep-alive socket
            self.connection.shutdown(2)
            return None
        throttle = re.match(r"^throttle(\d+)-", connection_id)
        if throttle and attempt <= int(throttle.group(1)):
            return self._reply(429, "LimitExceededException")
        if connection_id.startswith("cut-"):
            with self.server.lock:
                self.server.received[connection_id].append(data)
            # Delivered, and the answer says so, but the connection dies before the body is complete.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            self.wfile.flush()
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        if connection_id.startswith("slow-"):
            time.sleep(0.05)
        with self.server.lock:
            self.server.received[connection_id].append(data)
        self._reply(200, payload={})

    def _still_opening(self, connection_id: str) -> bool:
        opening = re.match(r"^opening(\d+)-", connection_id)
        if opening is None:
            return False
        with self.server.lock:
            self.server.attempts["GET " + connection_id] += 1
            return self.server.attempts["GET " + connection_id] <= int(opening.group(1))

    def do_GET(self) -> None:  # noqa: N802
        connection_id = self._connection_id() or ""
        if connection_id.startswith("gone-") or self._still_opening(connection_id):
            return self._reply(410, "GoneException")
        self._reply(200, payload={"connectedAt": "2026-11-24T08:00:00Z", "lastActiveAt": "2026-11-24T08:00:05Z",
                                  "identity": {"sourceIp": "203.0.113.10", "userAgent": "wscat"}})

    def do_DELETE(self) -> None:  # noqa: N802
        connection_id = self._connection_id() or ""
        if connection_id.startswith("gone-"):
            return self._reply(410, "GoneException")
        with self.server.lock:
            self.server.deleted.append(connection_id)
        self._reply(200, payload={})
