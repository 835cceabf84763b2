"""The local gateway's promises about a connection's life, over real sockets, whatever the client does:
every accepted $connect is followed by exactly one $disconnect (TCP resets during and right after the
handshake included), a refused one by none; posts to a client that stops reading answer at once and,
beyond the buffer bound, close the connection.

The gateway runs in this process on a free port with a recording handler: the gateway's side of the
contract is what is under test, so the handler only records events (and is slow where a race needs it)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.sync.client import connect

from django_aws_api_gateway_websockets.gateway.config import GatewayConfig
from django_aws_api_gateway_websockets.gateway.server import serve
from tests.e2e.test_gateway import reset

pytestmark = pytest.mark.e2e


@dataclass
class Recorder:
    """A Lambda handler that records every event; ``connect_delay`` makes $connect slow."""

    connect_delay: float = 0.0
    refuse: bool = False
    events: list[tuple[str, str, Any]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # connection id -> its $disconnect's reason
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        ctx = event["requestContext"]
        kind, cid = ctx["eventType"], ctx["connectionId"]
        if kind == "CONNECT":
            time.sleep(self.connect_delay)
        with self.lock:
            self.events.append((kind, cid, ctx.get("disconnectStatusCode")))
            if kind == "DISCONNECT":
                self.reasons[cid] = ctx.get("disconnectReason", "")
        if kind == "CONNECT" and self.refuse:
            return {"statusCode": 403, "body": '{"error": "no"}'}
        return {"statusCode": 200, "body": '{"ok": true}'}

    def of(self, kind: str) -> list[str]:
        with self.lock:
            return [cid for k, cid, _ in self.events if k == kind]


@dataclass
class RunningGateway:
    config: GatewayConfig
    recorder: Recorder

    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.port}/"


@pytest.fixture
def local_gateway() -> Iterator[Any]:
    """Start gateways in this process (each on its own loop and thread); all stopped afterwards."""
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[None], threading.Thread]] = []

    def start(recorder: Recorder, **options: Any) -> RunningGateway:
        # @connections calls from these tests sign with "local"/"local" (explicitly accepted credentials).
        config = GatewayConfig(handler=recorder, port=0, routes=[], two_way_routes={"$default"},
                               credentials={"local": "local"}, **options)
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        holder: dict[str, Any] = {}

        def run() -> None:
            asyncio.set_event_loop(loop)
            holder["task"] = loop.create_task(serve(config, lambda c: ready.set()))
            try:
                loop.run_until_complete(holder["task"])
            except asyncio.CancelledError:
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert ready.wait(10)
        running.append((loop, holder["task"], thread))
        return RunningGateway(config, recorder)

    yield start
    for loop, task, thread in running:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def assert_exactly_one_disconnect_per_connect(recorder: Recorder, expected_connects: int) -> None:
    wait_until(lambda: len(recorder.of("DISCONNECT")) >= expected_connects)
    time.sleep(0.2)  # any duplicate would arrive now
    connects, disconnects = recorder.of("CONNECT"), recorder.of("DISCONNECT")
    assert len(connects) == expected_connects
    assert sorted(disconnects) == sorted(connects), (len(connects), len(disconnects))


def test_reset_during_the_handshake_still_gets_one_disconnect(local_gateway: Any) -> None:
    gateway = local_gateway(Recorder(connect_delay=0.3))
    for _ in range(5):
        sock = handshake(gateway.config.port)
        time.sleep(0.05)  # the $connect handler is running
        reset(sock)
    assert_exactly_one_disconnect_per_connect(gateway.recorder, 5)


def test_reset_right_after_the_handshake_gets_one_disconnect(local_gateway: Any) -> None:
    gateway = local_gateway(Recorder())
    for _ in range(5):
        sock = handshake(gateway.config.port)
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        reset(sock)
    assert_exactly_one_disconnect_per_connect(gateway.recorder, 5)


def test_random_client_behaviour_many_trials(local_gateway: Any) -> None:
    """Resets at random moments, clean closes, abandoned sockets: one $disconnect per accepted $connect."""
    gateway = local_gateway(Recorder(connect_delay=0.02))
    rng = random.Random(7)
    trials = 40
    for _ in range(trials):
        choice = rng.randrange(4)
        if choice == 3:
            with connect(gateway.ws_url()) as ws:
                ws.send("{}")
                if rng.random() < 0.5:
                    ws.recv(timeout=10)
            continue
        sock = handshake(gateway.config.port)
        time.sleep(rng.random() * 0.04)
        if choice == 0:
            reset(sock)
        elif choice == 1:
            sock.recv(4096)
            sock.sendall(b"\x81\x82abcd\x1a\x1f")  # half a masked text frame, then gone
            reset(sock)
        else:
            sock.close()  # FIN without a close frame
    assert_exactly_one_disconnect_per_connect(gateway.recorder, trials)


def test_a_refused_connect_gets_no_disconnect(local_gateway: Any) -> None:
    gateway = local_gateway(Recorder(refuse=True))
    for _ in range(3):
        sock = handshake(gateway.config.port)
        assert sock.recv(4096).startswith(b"HTTP/1.1 403")
        reset(sock)
    wait_until(lambda: len(gateway.recorder.of("CONNECT")) == 3)
    time.sleep(0.2)
    assert gateway.recorder.of("DISCONNECT") == []


def test_posts_to_a_client_that_stops_reading_answer_at_once(local_gateway: Any) -> None:
    gateway = local_gateway(Recorder(), max_buffered_bytes=256 * 1024)
    sock = handshake(gateway.config.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, and nobody reads it
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    wait_until(lambda: len(gateway.recorder.of("CONNECT")) == 1)
    connection_id = gateway.recorder.of("CONNECT")[-1]
    api = boto3.client("apigatewaymanagementapi", endpoint_url=f"http://127.0.0.1:{gateway.config.port}",
                       region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local",
                       config=Config(retries={"total_max_attempts": 1}, read_timeout=60))
    chunk = json.dumps({"pad": "x" * 100 * 1024}).encode()
    sent = 0
    with pytest.raises(api.exceptions.GoneException):
        for _ in range(300):  # 30 MB: far beyond the bound and anything the kernel buffers
            api.post_to_connection(ConnectionId=connection_id, Data=chunk)
            sent += 1
    # The posts were answered while the client read nothing, until what they had queued passed the bound and
    # the gateway dropped the client for that: a gateway that waited for the socket to take each post would
    # have stopped answering once the kernel's buffers were full and never dropped the client for its queue
    # (this loop would then end on the read timeout, a safety net, not a measurement).
    assert 256 * 1024 // len(chunk) <= sent < 300  # the bound, plus what the kernel buffers took
    wait_until(lambda: connection_id in gateway.recorder.of("DISCONNECT"))
    assert gateway.recorder.reasons[connection_id].startswith("Client too slow: over 262144 bytes unread")
    reset(sock)


def test_a_binary_frame_closes_with_1003_then_one_disconnect(local_gateway: Any) -> None:
    """API Gateway takes no binary frames from clients: it closes the socket with 1003 ("Binary media types for
    WebSocket APIs"). The frame never reaches the handler; the $disconnect carries 1003."""
    from websockets.exceptions import ConnectionClosed

    gateway = local_gateway(Recorder())
    with connect(gateway.ws_url()) as ws:
        ws.send("text goes through")
        assert json.loads(ws.recv(timeout=10)) == {"ok": True}
        ws.send(b"\x00\x01 binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    wait_until(lambda: len(gateway.recorder.of("DISCONNECT")) == 1)
    assert [(kind, code) for kind, _, code in gateway.recorder.events] == [
        ("CONNECT", None), ("MESSAGE", None), ("DISCONNECT", 1003)]
