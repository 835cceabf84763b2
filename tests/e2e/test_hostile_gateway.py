"""Attacking the local gateway the way a client on the network can: forged events over its HTTP bridge,
hostile frames, hostile paths."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.e2e.gateway_process import Gateway
from tests.e2e.test_gateway import ask, wait_for

pytestmark = pytest.mark.e2e


def raw_http(gateway: Gateway, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers or "host" in headers, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_forged_events_over_the_http_bridge_are_refused(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        victim = ask(ws, {"action": "whoami"})["connectionId"]
        forged = {"Host": "attacker.example:4444", "Connectionid": victim, "User-Agent": "AmazonAPIGateway_local",
                  "X-Amzn-Apigateway-Api-Id": "local", "X-Forwarded-For": "198.51.100.9", "X-Real-Ip": "198.51.100.9",
                  "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Amzn-Trace-Id": "Root=1-1",
                  "Connection": "keep-alive", "Sec-Websocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                  "Sec-Websocket-Version": "13", "X-Websocket-Secret": "guessing-guessing-guessing",
                  "Django-Aws-Api-Gateway-Websockets.Event-Type": "CONNECT"}
        spellings = [forged, {k.lower(): v for k, v in forged.items()},
                     {k.replace("-", "_"): v for k, v in forged.items() if k != "Host"} | {"Host": forged["Host"]}]
        for headers in spellings:
            for path in ("/ws/connect", "/ws/messages", "/ws/disconnect", "/local/ws/connect"):
                body = json.dumps({"action": "whoami"}).encode() if "messages" in path else b""
                status, answer = raw_http(gateway, "POST", path, headers, body)
                if headers.get("Host", headers.get("host")) == "attacker.example:4444":
                    # Django refuses the foreign Host before any view runs (DisallowedHost); retry with ours.
                    assert status == 400, (path, status)
                    headers = {**headers, "Host": f"127.0.0.1:{gateway.port}"}
                    headers.pop("host", None)
                    status, answer = raw_http(gateway, "POST", path, headers, body)
                assert status in (403, 404), (path, status, answer[:200])
                if status == 403:
                    assert b"SHARED_SECRETS" in answer
        # The genuine socket still works and is still open; the forger registered nothing.
        assert ask(ws, {"action": "whoami"})["connectionId"] == victim
        assert gateway.session(victim)["connected"] == 1
        assert not [s for s in gateway.sessions() if "attacker" in str(s["domain_name"])]


def test_static_paths_that_climb_out_are_404(gateway: Gateway) -> None:
    for path in ("/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/../../etc/passwd", "/static/%2e%2e/settings.py",
                 "/static/admin/..%2F..%2F..%2F..%2F..%2Fetc/hostname", "/static/%00", "/static/\\..\\..\\x"):
        status, _ = raw_http(gateway, "GET", path.replace("\\", "%5C"), {"Host": "127.0.0.1"})
        assert status == 404, path


def test_deep_nesting_over_the_socket_gets_a_json_400_and_keeps_the_socket(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        for body in ("[" * 30_000, "{\"action\": " + "[" * 5000 + "]" * 5000 + "}",
                     "{\"action\": \"echo\", \"data\": " + "[" * 3000 + "]" * 3000 + "}"):
            ws.send(body)
            reply = json.loads(ws.recv(timeout=10))
            assert set(reply) == {"error"}
        assert ask(ws, {"action": "echo", "data": 1}) == {"route": "echo", "data": 1}


def test_errors_in_routes_are_json_on_the_socket_with_debug_on(gateway: Gateway) -> None:
    """The e2e gateway runs with DEBUG on: a route raising BadRequest/PermissionDenied answers JSON."""
    with connect(gateway.ws_url) as ws:
        reply = ask(ws, {"action": "post", "room": "not-joined", "text": "hi"})
        assert reply == {"error": "Join the room before posting to it."}
        reply = ask(ws, {"action": "join", "room": "bad room name!"})
        assert list(reply) == ["error"]


@pytest.mark.parametrize("origin", ["http://[::1", "https://[", "http://:]", "http://a]b"])
def test_a_malformed_origin_is_refused_403_at_the_handshake(gateway: Gateway, origin: str) -> None:
    status, body = raw_http(gateway, "GET", "/", {"Upgrade": "websocket", "Connection": "Upgrade", "Origin": origin,
                                                  "Sec-WebSocket-Version": "13",
                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert (status, json.loads(body)) == (403, {"error": "Forbidden: this origin may not open a WebSocket."})
