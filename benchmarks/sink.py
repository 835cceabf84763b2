"""A stand-in @connections endpoint for benchmarks: answers every POST with 200 after an optional delay
(the round trip to API Gateway), in its own process so it never competes with the sender for the GIL. It counts
posts (``/_stats``, with the CPU seconds the sink has used) and posts per connection id (``/_ids``).

It is a bare asyncio protocol speaking just the HTTP/1.1 the benchmarks send (keep-alive, Content-Length bodies,
no pipelining needed), not an aiohttp server: aiohttp's server spent about 0.07 ms of CPU per post, so on a 2-core
machine the sink alone took more than half a core at 8,000 posts/s and the posts/s rows measured the sink as much
as the sender. This one spends a fraction of that (the messaging rows print its CPU per post beside ours).

Usage: python -m benchmarks.sink --delay-ms 10   (prints "PORT <n>" when ready)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections import Counter
from urllib.parse import unquote

_POST_PATH = re.compile(rb"^(?:/[^/]+)?/@connections/([^/?]+)$")
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Counts:
    def __init__(self) -> None:
        self.posts = 0
        self.per_id: Counter[str] = Counter()


def _answer(status: str, body: bytes, close: bool) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + connection + b"\r\n" + body)


class SinkProtocol(asyncio.Protocol):
    """One client connection: requests are read in order and answered in order."""

    def __init__(self, counts: Counts, delay: float) -> None:
        self.counts = counts
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length, close = 0, False
            lines = head.split(b"\r\n")
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            method, target = lines[0].split(b" ")[:2]
            self.handle(method, target, close)

    def handle(self, method: bytes, target: bytes, close: bool) -> None:
        assert self.transport is not None
        match = _POST_PATH.match(target) if method == b"POST" else None
        if match is not None:
            connection_id = unquote(match.group(1).decode())
            if self.delay:
                self.loop.call_later(self.delay, self.posted, connection_id, close)
            else:
                self.posted(connection_id, close)
            return
        if method == b"GET" and target == b"/_stats":
            body = json.dumps({"posts": self.counts.posts, "cpu_seconds": time.process_time()}).encode()
            self.transport.write(_answer("200 OK", body, close))
        elif method == b"GET" and target == b"/_ids":
            self.transport.write(_answer("200 OK", json.dumps(self.counts.per_id).encode(), close))
        else:
            self.transport.write(_answer("404 Not Found", b'{"message": "Not Found"}', close))
        if close:
            self.transport.close()

    def posted(self, connection_id: str, close: bool) -> None:
        """Count the post when it is answered (as the aiohttp sink did, after the delay)."""
        assert self.transport is not None
        self.counts.posts += 1
        self.counts.per_id[connection_id] += 1
        if self.transport.is_closing():
            return
        self.transport.write(_OK if not close else _answer("200 OK", b"{}", True))
        if close:
            self.transport.close()


async def main(delay_ms: float) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(counts, delay_ms / 1000), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0.0)
    asyncio.run(main(parser.parse_args().delay_ms))
