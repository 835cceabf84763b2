"""Users of the 1.x-4.x package can switch: its URL pattern and its way of unit-testing handlers.

Its documented wiring is ``path("ws/<slug:route>", MyView.as_view())``, with API Gateway's HTTP integration
posting to ``ws/connect``, ``ws/disconnect`` and ``ws/<any other route key>``. These requests come over plain
HTTP, so they carry the integration secret (``WEBSOCKETS["SHARED_SECRETS"]``) as API Gateway would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, RequestFactory
from django.core.wsgi import get_wsgi_application
from django.urls import include, path

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.routing import route
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from django_aws_api_gateway_websockets.urls import websocket_urls
from django_aws_api_gateway_websockets.views import CONNECT, DISCONNECT, MESSAGE, WebSocketView, route_kind_from_url
from tests.helpers import gateway_headers

SECRET = "upstream-style-integration-secret-0123456789"


class UpstreamStyleView(WebSocketView):
    @route("echo")
    def echo(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return JsonResponse({"data": self.body.get("data"), "url_route": kwargs.get("route")})


class ChannelView(WebSocketView):
    """The README's recipe for 1.x-4.x's ``?channel=``: join a group of that name at connect."""

    required_connection_headers: list[str] = []

    def connect(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().connect(request, *args, **kwargs)
        channel = request.GET.get("channel")
        if channel and response.status_code == 200:
            self.join_group(channel)
        return response


urlpatterns = [
    path("ws/<slug:route>", UpstreamStyleView.as_view(), name="example_websocket"),
    path("channels/", include(websocket_urls(ChannelView))),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def secret(settings: Any) -> str:
    settings.WEBSOCKETS = {**settings.WEBSOCKETS, "SHARED_SECRETS": [SECRET]}
    return SECRET


def post(client: Client, url_route: str, body: Any = None, *, connect: bool = False, connection_id: str = "Up1Up2Up3Up=",
         **extra: str) -> Any:
    data = b"" if body is None else json.dumps(body).encode()
    headers = gateway_headers(connection_id, connect=connect, **{"X-Websocket-Secret": SECRET, **extra})
    return client.post(f"/ws/{url_route}", data=data, content_type="application/json", headers=headers,
                       CONTENT_LENGTH=str(len(data)))


@pytest.mark.django_db
def test_upstream_url_pattern_connect_message_disconnect(client: Client, secret: str) -> None:
    response = post(client, "connect", connect=True)
    assert response.status_code == 200, response.content
    assert WebSocketSession.objects.get(connection_id="Up1Up2Up3Up=").connected
    # $default and custom route keys both reach ws/<route key>; the body's action picks the handler.
    for url_route in ("default", "echo", "sendmessage"):
        reply = post(client, url_route, {"action": "echo", "data": url_route})
        assert reply.status_code == 200, reply.content
        assert reply.json() == {"data": url_route, "url_route": url_route}
    unknown = post(client, "default", {"action": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "Unknown route."
    assert post(client, "disconnect").status_code == 200
    assert not WebSocketSession.objects.get(connection_id="Up1Up2Up3Up=").connected
    gone = post(client, "default", {"action": "echo"})
    assert gone.status_code == 403 and gone.json()["error"] == "Unknown or disconnected connection."


@pytest.mark.django_db
def test_upstream_url_pattern_connect_checks_connection_headers(client: Client, secret: str) -> None:
    # "connect" is a connect: the handshake headers are required, as on our own connect URL.
    response = post(client, "connect")
    assert response.status_code == 400 and "Sec-Websocket-Key" in response.json()["error"]


@pytest.mark.django_db
def test_upstream_url_pattern_without_the_secret_is_refused(client: Client, secret: str) -> None:
    response = post(client, "connect", connect=True, **{"X-Websocket-Secret": "wrong"})
    assert response.status_code == 403
    assert not WebSocketSession.objects.exists()


@pytest.mark.parametrize(("kwargs", "kind"), [
    ({"route_kind": "connect"}, CONNECT), ({"route_kind": "disconnect"}, DISCONNECT), ({"route_kind": "message"}, MESSAGE),
    ({"route": "connect"}, CONNECT), ({"route": "disconnect"}, DISCONNECT), ({"route": "$connect"}, CONNECT),
    ({"route": "default"}, MESSAGE), ({"route": "messages"}, MESSAGE), ({"route": "Connect"}, MESSAGE), ({}, MESSAGE),
    ({"route_kind": "disconnect", "route": "connect"}, DISCONNECT),  # ours wins when both are given
])
def test_route_kind_from_url(kwargs: dict[str, str], kind: str) -> None:
    assert route_kind_from_url(kwargs) == kind


def test_handlers_work_on_an_instance_without_setup() -> None:
    # As the 1.x-4.x package's own tests do: WebSocketView() and call a handler directly.
    view = WebSocketView()
    assert view.route_kind == MESSAGE
    request = RequestFactory().post("/ws/default", data=b"{}", content_type="application/json")
    missing = view.missing_headers(request)
    assert missing.status_code == 400 and json.loads(missing.content)["error"].startswith("Missing required headers: ")
    assert "Sec-Websocket-Key" not in json.loads(missing.content)["error"]  # a message, not a connect
    assert view.invalid_useragent(request).status_code == 400
    assert view.route_selection_key_missing(request).status_code == 400
    assert view.default(request).status_code == 400
    assert view._return_bad_request("Some problem").status_code == 400


@pytest.mark.django_db
def test_channel_query_parameter_recipe_joins_a_group() -> None:
    ws = WebSocketTestClient(make_websocket_handler(get_wsgi_application(), view=ChannelView))
    assert ws.connect(query={"channel": "lobby"}).status_code == 200
    assert WebSocketSession.objects.get(connection_id=ws.connection_id).group_names() == ["lobby"]
