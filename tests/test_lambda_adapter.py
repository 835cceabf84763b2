"""The Lambda adapter: WebSocket events -> REST v1 events -> Django, and everything else unchanged."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets.events import Connection
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.urls import CountingView

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    return make_websocket_handler(get_wsgi_application(), view=CountingView, url_namespace="base")


@pytest.fixture
def ws(handler: Any) -> WebSocketTestClient:
    return WebSocketTestClient(handler, routes=list(CountingView.routes), route_selection_key="action",
                               api_id="fx12ab34cd", region="eu-central-1")


BROWSER = {"Cookie": "theme=dark", "Origin": "https://testserver"}


def test_connect_message_disconnect_through_lambda(ws: WebSocketTestClient) -> None:
    assert ws.connect(headers=BROWSER).status_code == 200
    session = WebSocketSession.objects.get()
    assert (session.api_id, session.stage, session.domain_name) == (
        "fx12ab34cd", "prod", "fx12ab34cd.execute-api.eu-central-1.amazonaws.com")
    assert session.client_ip == "203.0.113.10"
    response = ws.send({"action": "ping"})
    assert (response.status_code, response.json()) == (200, {"pong": True, "user": None})
    assert ws.disconnect(1001, "Going away").status_code == 200
    session.refresh_from_db()
    assert (session.connected, session.disconnect_status_code, session.disconnect_reason) == (False, 1001, "Going away")


def test_library_default_view_still_requires_cookie_and_origin(ws: WebSocketTestClient) -> None:
    response = ws.connect()
    assert response.status_code == 400
    assert "Cookie" in response.json()["error"]


def test_required_headers_are_synthesised_and_spoofs_overwritten(ws: WebSocketTestClient) -> None:
    spoofed = {**BROWSER, "Connectionid": "victim=", "X-Forwarded-For": "6.6.6.6", "X_Real_Ip": "6.6.6.6",
               "User-Agent": "AmazonAPIGateway_otherapi", "X-Amzn-Apigateway-Api-Id": "otherapi",
               "Content-Length": "999999"}
    assert ws.connect(headers=spoofed).status_code == 200
    headers = CountingView.seen_connect["headers"]
    assert headers["Connectionid"] == ws.connection_id
    assert headers["X-Forwarded-For"] == headers["X-Real-Ip"] == "203.0.113.10"
    assert headers["User-Agent"] == "AmazonAPIGateway_fx12ab34cd"
    assert headers["X-Amzn-Apigateway-Api-Id"] == "fx12ab34cd"
    assert headers["Content-Length"] == "0"
    assert headers["Cookie"] == "theme=dark" and headers["Origin"] == "https://testserver"
    assert headers["Sec-Websocket-Key"]
    assert WebSocketSession.objects.get().connection_id == ws.connection_id


def test_query_string_and_request_context_reach_the_view(ws: WebSocketTestClient) -> None:
    ws.connect(headers=BROWSER, query={"room": "lobby", "tag": ["a", "b"]})
    seen = CountingView.seen_connect
    assert seen["query"] == {"room": "lobby", "tag": "b"}
    assert seen["context"]["eventType"] == "CONNECT"
    assert seen["context"]["connectionId"] == ws.connection_id
    response = ws.send({"action": "inspect", "x": "ü"})
    data = response.json()
    assert data["routeKey"] == "inspect"
    assert data["requestId"] == response.event["requestContext"]["requestId"]
    assert data["host"] == "fx12ab34cd.execute-api.eu-central-1.amazonaws.com"
    assert data["body"] == {"action": "inspect", "x": "ü"}
    assert int(data["headers"]["Content-Length"]) == len(response.event["body"].encode())


def test_base64_bodies_are_decoded(ws: WebSocketTestClient) -> None:
    ws.connect(headers=BROWSER)
    response = ws.send({"action": "inspect", "n": 1}, binary=True)
    assert response.event["isBase64Encoded"] is True
    assert response.json()["body"] == {"action": "inspect", "n": 1}


def test_subprotocol_is_returned_in_plain_headers(ws: WebSocketTestClient) -> None:
    response = ws.connect(headers={**BROWSER, "Sec-WebSocket-Protocol": "chat.v1, chat.v2"})
    assert response.headers["Sec-WebSocket-Protocol"] == "chat.v2"
    assert set(response.headers) >= {"Content-Type"} and "multiValueHeaders" not in response.headers


def test_shared_secret_is_added_for_trusted_lambda_events(ws: WebSocketTestClient) -> None:
    with override_settings(WEBSOCKETS={"SHARED_SECRETS": ["a-long-shared-secret-0001"]}):
        assert ws.connect(headers=BROWSER).status_code == 200


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ([], "event must be a JSON object"),
        ("text", "event must be a JSON object"),
        (None, "event must be a JSON object"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": ""}}, "connectionId"),
        ({"requestContext": {"eventType": "PING", "connectionId": "x="}}, "eventType"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=\n"}}, "connectionId"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a\n", "stage": "s",
                             "domainName": "h.example"}}, "apiId"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a", "stage": "s\n",
                             "domainName": "h.example"}}, "stage"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a", "stage": "s",
                             "domainName": "h.example\n"}}, "domainName"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a", "stage": "s",
                             "domainName": "bad host/../"}}, "domainName"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a", "stage": "s",
                             "domainName": "h.example"}, "body": "!!!", "isBase64Encoded": True}, "base64"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "x=", "apiId": "a", "stage": "s",
                             "domainName": "h.example"}, "body": {"action": "x"}}, "body must be a string"),
        ({"requestContext": []}, "malformed event"),
        ({"version": "2.0", "requestContext": {}}, "malformed event"),
    ],
)
def test_malformed_events_get_400_and_a_log_line(handler: Any, event: Any, fragment: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    response = handler(event, None)
    assert response["statusCode"] == 400
    assert fragment in json.loads(response["body"])["error"]
    assert any("Refused Lambda event" in r.getMessage() for r in caplog.records)


def test_huge_message_is_413(ws: WebSocketTestClient) -> None:
    ws.connect(headers=BROWSER)
    response = ws.send({"action": "ping", "pad": "x" * 200_000})
    assert response.status_code == 413


def test_http_api_v2_event_goes_to_django_unchanged(handler: Any) -> None:
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/base/messages", "rawQueryString": "",
        "headers": {"host": "testserver"},
        "requestContext": {"http": {"method": "GET", "path": "/base/messages", "protocol": "HTTP/1.1",
                                    "sourceIp": "192.0.2.1"}},
        "isBase64Encoded": False,
    }
    response = handler(event, None)
    assert response["statusCode"] == 405  # reached the view: WebSocket views only take POST
    assert "cookies" in response  # apig-wsgi's v2 response shape, untouched


def test_rest_v1_event_goes_to_django_unchanged(handler: Any) -> None:
    event = {"httpMethod": "GET", "path": "/nowhere", "headers": {"Host": "testserver"}, "body": None,
             "isBase64Encoded": False, "requestContext": {"resourcePath": "/"}}
    assert handler(event, None)["statusCode"] == 404


def test_the_host_of_a_recorded_event_is_trusted_once(handler: Any) -> None:
    from django.conf import settings

    ws = WebSocketTestClient(handler, routes=list(CountingView.routes), route_selection_key="action",
                             api_id="zz99yy88xx", region="ap-southeast-2")
    assert ws.connect(headers=BROWSER).status_code == 200
    assert ws.send({"action": "ping"}).status_code == 200
    assert settings.ALLOWED_HOSTS.count("zz99yy88xx.execute-api.ap-southeast-2.amazonaws.com") == 1
    assert ".execute-api.ap-southeast-2.amazonaws.com" not in settings.ALLOWED_HOSTS  # off Lambda: no wildcard
    foreign = Connection(api_id="zz99yy88xx", domain_name="evil.example")
    assert handler(foreign.connect_event(BROWSER), None)["statusCode"] == 400  # DisallowedHost, not trusted


def test_response_body_is_text(ws: WebSocketTestClient) -> None:
    raw = ws.handler(ws.connection.message_event(base64.b64encode(b"\xff").decode(), binary=False), None)
    assert isinstance(raw["body"], str)
