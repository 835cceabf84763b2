"""Raw frames: messages that are not JSON objects reach a view's @route(RAW) handler (as text, or as bytes
decoded from base64), raw text can be sent to a connection, and RAW is no API Gateway route."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.http import JsonResponse
from hypothesis import given
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.messaging import send_text_to_connection
from django_aws_api_gateway_websockets.routing import RAW, route
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from django_aws_api_gateway_websockets.views import WebSocketView
from tests.feature_views import Base64View, FeatureView
from tests.fuzzing import bodies, fuzz

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


def connected(view: Any, namespace: str) -> WebSocketTestClient:
    from django.core.wsgi import get_wsgi_application

    handler = make_websocket_handler(get_wsgi_application(), view=view, url_namespace=namespace)
    ws = WebSocketTestClient(handler, routes=list(view.routes), route_selection_key="action")
    assert ws.connect().status_code == 200
    return ws


def test_frames_that_are_not_json_objects_reach_the_raw_handler() -> None:
    ws = connected(FeatureView, "features")
    for frame, shown in (("hello there", "raw text: hello there"), ("[1, 2]", "raw text: [1, 2]"),
                         ("42", "raw text: 42"), ('"quoted"', 'raw text: "quoted"'), ("{not json", "raw text: {not json")):
        reply = ws.send(frame)
        assert (reply.status_code, reply.body) == (200, shown)
        assert reply.headers["Content-Type"].startswith("text/plain")
        assert reply.event["requestContext"]["routeKey"] == "$default"  # API Gateway's choice for such frames
    # JSON objects still go to their routes; an event API Gateway delivered as binary gives the handler bytes.
    assert ws.send({"action": "echo", "data": 1}).json() == {"route": "echo", "data": 1}
    assert ws.send(b"\xff\x00\xfe", binary=True).body == "raw bytes: ff00fe"
    # The limits and checks before any handler still apply.
    assert ws.send("x" * (128 * 1024 + 1)).status_code == 413
    assert WebSocketTestClient(ws.handler, routes=[], route_selection_key="action").send("hi").status_code == 403


def test_a_base64_raw_handler_gets_bytes_and_invalid_base64_is_a_400() -> None:
    ws = connected(Base64View, "base64")
    payload = bytes(range(256))
    reply = ws.send(base64.b64encode(payload).decode())
    assert reply.json() == {"bytes": payload.hex(), "length": 256}  # an async RAW handler
    assert ws.send(" " + base64.b64encode(b"\x00\x01").decode() + "\n").json()["length"] == 2
    for bad in ("not base64!", "abc", "////====x"):
        refused = ws.send(bad)
        assert (refused.status_code, refused.json()) == (400, {"error": "Message is not valid base64."})
    assert ws.send({"action": "echo", "data": "json"}).json() == {"data": "json"}


def test_raw_is_no_api_gateway_route_and_is_declared_once() -> None:
    assert RAW not in FeatureView.routes and FeatureView.raw_route is not None
    assert FeatureView.raw_route.method == "raw_frame" and WebSocketView.raw_route is None
    with pytest.raises(ValueError, match=r"@route\(RAW\) only"):
        route("echo", base64=True)

    class Sub(Base64View):  # inherited, and a subclass may replace it
        @route(RAW)
        def text(self, request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
            return JsonResponse({})

    assert Sub.raw_route is not None and (Sub.raw_route.method, Sub.raw_route.base64) == ("text", False)
    with pytest.raises(TypeError, match="cannot be a WebSocket route"):
        type("Bad", (WebSocketView,), {"raw": route(RAW)(lambda self, request: None)})


def test_raw_text_can_be_sent_to_a_connection(fault_server: Any) -> None:
    from django.test import override_settings

    from django_aws_api_gateway_websockets.store import reset_stores

    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url}):
        reset_stores()
        ws = connected(FeatureView, "features")
        assert send_text_to_connection(ws.connection_id, "line one\nno JSON here").sent == 1
        assert fault_server.received[ws.connection_id] == [b"line one\nno JSON here"]
        assert send_text_to_connection("NeverConnected=", "x").gone == 1
        with pytest.raises(ValueError, match="128 KB"):
            send_text_to_connection(ws.connection_id, "x" * (128 * 1024 + 1))
    reset_stores()


@pytest.fixture
def raw_clients() -> list[WebSocketTestClient]:
    return [connected(FeatureView, "features"), connected(Base64View, "base64")]


@fuzz(80)
@given(body=bodies, binary=st.booleans())
def test_any_frame_to_raw_handlers_gets_a_reply_never_a_5xx(raw_clients: list[WebSocketTestClient], body: Any,
                                                            binary: bool) -> None:
    """Hostile frames (nesting, lone surrogates, sizes around the limits, any bytes; as text, or as an event
    API Gateway delivered base64-encoded) at views with a text and a base64 RAW handler: below 500 always, and
    an error is a JSON error."""
    frame = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    for ws in raw_clients:
        reply = ws.send(frame, binary=True) if binary else ws.send(frame.decode("utf-8", "replace"))
        assert reply.status_code < 500, reply.body[:200]
        if reply.status_code >= 400:
            assert "error" in reply.json()
