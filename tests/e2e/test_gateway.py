"""The local gateway over real sockets: a Python WebSocket client, boto3 and plain HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.gateway_process import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


def ask(ws: ClientConnection, payload: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(payload))
    return json.loads(ws.recv(timeout=10))


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST (no FIN, no close frame), as a crashed client or a dropped network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def recv_until(ws: ClientConnection, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Read messages (pushes and replies interleave) until one matches."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if predicate(message):
            return message


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def management(gateway: Gateway, stage: str = "") -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=f"{gateway.http_url}{stage}", region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"total_max_attempts": 1}))


def test_connect_send_to_a_route_and_get_the_reply(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        who = ask(ws, {"action": "whoami"})
        assert who["route"] == "whoami" and who["authenticated"] is False
        assert ask(ws, {"action": "echo", "data": {"n": [1, 2]}}) == {"route": "echo", "data": {"n": [1, 2]}}
        session = gateway.session(who["connectionId"])
        assert session["connected"] == 1 and session["stage"] == "local"
        assert session["domain_name"] == f"127.0.0.1:{gateway.port}"


def test_the_stage_path_works_too(gateway: Gateway) -> None:
    with connect(f"{gateway.ws_url}local") as ws:
        assert ask(ws, {"action": "whoami"})["route"] == "whoami"


def test_non_json_and_unknown_routes_go_to_default(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        ws.send("hello, plain text")
        assert json.loads(ws.recv(timeout=10)) == {"error": "Message body is not valid JSON."}
        assert ask(ws, {"action": "dispatch"})["error"] == "Unknown route."


def test_a_broadcast_reaches_the_other_member(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as a, connect(gateway.ws_url) as b:
        a.send(json.dumps({"action": "join", "room": "e2e-room"}))
        recv_until(a, lambda m: m.get("route") == "join")
        b.send(json.dumps({"action": "join", "room": "e2e-room"}))
        joined = recv_until(b, lambda m: m.get("route") == "join")
        assert len(joined["members"]) == 2
        # a hears b join (presence)
        b_joined = recv_until(a, lambda m: m.get("type") == "presence" and m["member"]["name"] != "")["member"]
        assert b_joined in joined["members"]
        a.send(json.dumps({"action": "post", "room": "e2e-room", "text": "over the wire"}))
        message = recv_until(b, lambda m: m.get("type") == "message")
        assert message["text"] == "over the wire"


def test_connect_refused_when_the_view_says_no(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(gateway.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    assert b"origin" in refused.value.response.body


def test_subprotocol_from_connect_response(gateway: Gateway) -> None:
    with connect(gateway.ws_url, subprotocols=["nope", "chat.v1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "chat.v1"


def test_client_close_code_reaches_disconnect(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        connection_id = ask(ws, {"action": "whoami"})["connectionId"]
        ws.close(code=4001, reason="bye now")
    session = wait_for(lambda: (s := gateway.session(connection_id))["connected"] == 0 and s)
    assert (session["disconnect_status_code"], session["disconnect_reason"]) == (4001, "bye now")


def test_oversized_message_closes_with_1009(gateway: Gateway) -> None:
    with connect(gateway.ws_url, max_size=None) as ws:
        connection_id = ask(ws, {"action": "whoami"})["connectionId"]
        ws.send(json.dumps({"action": "echo", "data": "x" * (130 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert wait_for(lambda: gateway.session(connection_id)["disconnect_status_code"] == 1009)


def test_a_single_frame_over_32_kb_closes_with_1009(gateway: Gateway) -> None:
    with connect(gateway.ws_url, max_size=None) as ws:
        connection_id = ask(ws, {"action": "whoami"})["connectionId"]
        ws.send(json.dumps({"action": "echo", "data": "x" * (40 * 1024)}))  # one 40 KB frame, as browsers send
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    session = wait_for(lambda: (s := gateway.session(connection_id))["connected"] == 0 and s)
    assert (session["disconnect_status_code"], session["disconnect_reason"]) == (1009, "Frame too big")


def test_a_100_kb_message_in_small_frames_is_accepted(gateway: Gateway) -> None:
    text = json.dumps({"action": "echo", "data": "y" * (100 * 1024)})
    pieces = [text[i:i + 25 * 1024] for i in range(0, len(text), 25 * 1024)]  # fragments under 32 KB
    with connect(gateway.ws_url, max_size=None) as ws:
        ws.send(pieces)
        assert len(recv_until(ws, lambda m: m.get("route") == "echo")["data"]) == 100 * 1024


def test_boto3_post_get_delete_and_gone(gateway: Gateway) -> None:
    for stage in ("", "/local"):
        api = management(gateway, stage)
        with connect(gateway.ws_url) as ws:
            connection_id = ask(ws, {"action": "whoami"})["connectionId"]
            api.post_to_connection(ConnectionId=connection_id, Data=b'{"pushed": true}')
            assert json.loads(ws.recv(timeout=10)) == {"pushed": True}
            info = api.get_connection(ConnectionId=connection_id)
            assert info["Identity"]["SourceIp"] == "127.0.0.1" and "ConnectedAt" in info
            api.delete_connection(ConnectionId=connection_id)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        with pytest.raises(api.exceptions.GoneException):
            api.post_to_connection(ConnectionId=connection_id, Data=b"late")
        with pytest.raises(api.exceptions.GoneException):
            api.get_connection(ConnectionId="NeverWasHere=")
        assert wait_for(lambda: gateway.session(connection_id)["connected"] == 0)


def test_unsigned_management_calls_are_refused(gateway: Gateway) -> None:
    request = urllib.request.Request(f"{gateway.http_url}/@connections/abc%3D", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - local test server
    assert refused.value.code == 403
    assert refused.value.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_management_calls_signed_with_other_credentials_are_refused(gateway: Gateway) -> None:
    with connect(gateway.ws_url) as ws:
        connection_id = ask(ws, {"action": "whoami"})["connectionId"]
        for key, secret in (("local", "not-the-secret"), ("someone-else", "local")):
            stranger = boto3.client("apigatewaymanagementapi", endpoint_url=gateway.http_url, region_name="us-east-1",
                                    aws_access_key_id=key, aws_secret_access_key=secret,
                                    config=Config(retries={"total_max_attempts": 1}))
            for call in (lambda: stranger.post_to_connection(ConnectionId=connection_id, Data=b"forged"),
                         lambda: stranger.get_connection(ConnectionId=connection_id),
                         lambda: stranger.delete_connection(ConnectionId=connection_id)):
                with pytest.raises(stranger.exceptions.ForbiddenException):
                    call()
        # Any header that merely looks signed (what the gateway used to accept).
        request = urllib.request.Request(
            f"{gateway.http_url}/@connections/{urllib.parse.quote(connection_id, safe='')}", data=b"forged",
            method="POST", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/"
                                                     "execute-api/aws4_request, SignedHeaders=host, Signature=00"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - local test server
        assert refused.value.code == 403 and refused.value.headers["x-amzn-ErrorType"] == "ForbiddenException"
        # The socket is untouched and still works; the gateway's own credentials still post.
        management(gateway).post_to_connection(ConnectionId=connection_id, Data=b'{"ok": 1}')
        assert json.loads(ws.recv(timeout=10)) == {"ok": 1}
        assert ask(ws, {"action": "whoami"})["connectionId"] == connection_id


def test_pages_login_and_an_authenticated_socket_on_one_port(gateway: Gateway) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{gateway.http_url}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "alice", "password": "demo-password"})
    request = urllib.request.Request(f"{gateway.http_url}/login/", data=form.encode(),
                                     headers={"Referer": f"{gateway.http_url}/login/", "Origin": gateway.http_url})
    home = opener.open(request, timeout=10).read().decode()
    assert "Logged in" in home or "alice" in home
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    with connect(gateway.ws_url, additional_headers={"Cookie": cookie}, origin=gateway.http_url) as ws:  # type: ignore[arg-type]
        who = ask(ws, {"action": "whoami"})
    assert who["authenticated"] is True and who["name"] == "alice"


def test_static_files_are_served_in_debug(gateway: Gateway) -> None:
    with urllib.request.urlopen(f"{gateway.http_url}/static/admin/css/base.css", timeout=10) as response:  # noqa: S310
        assert response.status == 200 and b"{" in response.read()


def test_idle_timeout_closes_with_1001(tmp_path: Any, gateway: Gateway) -> None:
    short = start_gateway(tmp_path, "--idle-timeout", "1", "--max-lifetime", "30", db_path=gateway.db_path)
    try:
        with connect(short.ws_url) as ws:
            connection_id = ask(ws, {"action": "whoami"})["connectionId"]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert wait_for(lambda: gateway.session(connection_id)["disconnect_status_code"] == 1001)
    finally:
        stop_gateway(short)


def test_the_gateway_on_the_dynamodb_store(tmp_path: Any, gateway: Gateway, moto_server: str) -> None:
    """The same chat over real sockets with connections kept in DynamoDB (moto server), not SQLite, presence
    and a dropped socket included."""
    import uuid

    from django_aws_api_gateway_websockets.store.dynamodb_schema import create_table_arguments

    table = f"gateway-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="local",
                 aws_secret_access_key="local").create_table(**create_table_arguments(table))
    env = {"WEBSOCKETS_STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
           "WEBSOCKETS_DYNAMODB_TABLE": table, "WEBSOCKETS_DYNAMODB_ENDPOINT_URL": moto_server}
    dynamo = start_gateway(tmp_path, db_path=gateway.db_path, env=env)
    try:
        with connect(dynamo.ws_url) as a, connect(dynamo.ws_url) as b:
            a.send(json.dumps({"action": "join", "room": "dyn"}))
            recv_until(a, lambda m: m.get("route") == "join")
            b.send(json.dumps({"action": "join", "room": "dyn"}))
            assert len(recv_until(b, lambda m: m.get("route") == "join")["members"]) == 2
            a.send(json.dumps({"action": "post", "room": "dyn", "text": "stored in DynamoDB"}))
            assert recv_until(b, lambda m: m.get("type") == "message")["text"] == "stored in DynamoDB"
            connection_id = ask(b, {"action": "whoami"})["connectionId"]
            # Presence on DynamoDB: a heard b join; b's network drops (TCP reset), and its $disconnect tells a.
            reset(b.socket)
            heard: list[tuple[str, str]] = []
            recv_until(a, lambda m: m.get("type") == "presence" and not heard.append(
                (m["event"], m["member"]["connectionId"])) and m["event"] == "left")
            assert heard[-2:] == [("joined", connection_id), ("left", connection_id)]
        items = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="local",
                             aws_secret_access_key="local").get_item(
            TableName=table, Key={"PK": {"S": f"CONN#{connection_id}"}, "SK": {"S": "META"}})
        assert items["Item"]["connection_id"]["S"] == connection_id
        assert not any(s["connection_id"] == connection_id for s in gateway.sessions())  # nothing in SQLite
    finally:
        stop_gateway(dynamo)
