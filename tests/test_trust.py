"""Forged WebSocket events: only events that came through the Lambda adapter, or that carry a valid
shared secret (HTTP integration mode), reach a WebSocketView. Every other path is refused with 403."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client, override_settings

from django_aws_api_gateway_websockets import signals
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.security import EVENT_TYPE_KEY
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.helpers import TEST_SECRET, GatewayPoster, gateway_headers

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]

VICTIM = "Victim0Conn="


@pytest.fixture(scope="module")
def handler() -> Any:
    import lambda_handler

    return lambda_handler.handler


def spellings(headers: dict[str, str]) -> list[dict[str, str]]:
    """The same forged headers as a client could spell them: as given, lower case, upper case, and with
    underscores (which some servers turn into the same WSGI key)."""
    return [headers, {k.lower(): v for k, v in headers.items()}, {k.upper(): v for k, v in headers.items()},
            {k.replace("-", "_"): v for k, v in headers.items()}]


FORGED = {
    **gateway_headers(VICTIM, connect=True),
    "X-Forwarded-For": "198.51.100.77",
    # the marker is an environ key: as a header it becomes HTTP_..., never the key itself
    EVENT_TYPE_KEY: "CONNECT",
    "Django-Aws-Api-Gateway-Websockets.Event-Type": "CONNECT",
    "X-Websocket-Secret": "guess-guess-guess-guess",
}


def forged_events(path: str, headers: dict[str, str], body: str = "") -> list[dict[str, Any]]:
    """The request as an HTTP API (v2), a REST API (v1) and an ALB event: what a client on the internet
    can make API Gateway or a load balancer send to a function that also serves Django pages."""
    encoded = base64.b64encode(body.encode()).decode()
    return [
        {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "cookies": [],
         "headers": {k.lower(): v for k, v in headers.items()},
         "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.77"},
                            "domainName": "testserver", "stage": "$default"},
         "body": encoded, "isBase64Encoded": True},
        {"httpMethod": "POST", "path": path, "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
         "queryStringParameters": None, "requestContext": {"resourcePath": "/{proxy+}", "stage": "prod"},
         "body": body, "isBase64Encoded": False},
        {"httpMethod": "POST", "path": path, "headers": {k.lower(): v for k, v in headers.items()},
         "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
         "body": body, "isBase64Encoded": False},
    ]


@pytest.fixture
def watched() -> Any:
    seen: list[str] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs["connection"].connection_id if kwargs.get("connection") else "?")

    for signal in (signals.websocket_connected, signals.websocket_disconnected, signals.websocket_message_received):
        signal.connect(receiver, weak=False)
    yield seen
    for signal in (signals.websocket_connected, signals.websocket_disconnected, signals.websocket_message_received):
        signal.disconnect(receiver)


def assert_refused(status: int, body: str | bytes) -> None:
    assert status == 403
    error = json.loads(body)["error"]
    assert "SHARED_SECRETS" in error and "HTTP integration" in error


@pytest.fixture(params=["default", "with-secret"])
def configuration(request: pytest.FixtureRequest) -> Any:
    """The library's default configuration (no SHARED_SECRETS: what users run) and the suite's (a secret for the
    HTTP-integration-mode tests). Forged requests are refused in both."""
    values = {"VIEW": "app.websocket_views.ChatView"}
    if request.param == "with-secret":
        values["SHARED_SECRETS"] = [TEST_SECRET]  # type: ignore[assignment]
    with override_settings(WEBSOCKETS=values):
        yield request.param


@pytest.mark.usefixtures("configuration")
@pytest.mark.parametrize("kind", ["connect", "disconnect", "messages"])
def test_forged_lambda_http_events_are_refused(handler: Any, kind: str, watched: list[str]) -> None:
    genuine = WebSocketTestClient(handler)
    assert genuine.connect().status_code == 200
    body = json.dumps({"action": "whoami"}) if kind == "messages" else ""
    for headers in spellings({**FORGED, "Connectionid": genuine.connection_id}):
        for event in forged_events(f"/ws/{kind}", headers, body):
            response = handler(event, None)
            assert_refused(response["statusCode"], response["body"])
    assert WebSocketSession.objects.get().connected  # the genuine socket was not disconnected
    assert watched == [genuine.connection_id]  # only the genuine $connect ran


@pytest.mark.usefixtures("configuration")
@pytest.mark.parametrize("kind", ["connect", "disconnect", "messages"])
def test_forged_requests_through_the_django_test_client_are_refused(client: Client, kind: str) -> None:
    for headers in spellings(FORGED):
        for prefix in ("/ws/", "/base/", "/locked/"):
            response = client.post(f"{prefix}{kind}", data=b'{"action": "ping"}', content_type="application/json",
                                   headers=headers)
            assert_refused(response.status_code, response.content)
    assert not WebSocketSession.objects.exists()


def test_wrong_or_missing_secret_is_refused_when_secrets_are_configured(client: Client) -> None:
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "SHARED_SECRETS": [TEST_SECRET]}):
        for secret in (None, "", "wrong", TEST_SECRET[:-1], TEST_SECRET + "x", TEST_SECRET.upper()):
            headers = gateway_headers(connect=True)
            del headers["X-Websocket-Secret"]
            if secret is not None:
                headers["X-Websocket-Secret"] = secret
            assert GatewayPoster(client).post("connect", b"", headers).status_code == 403
        assert GatewayPoster(client).connect().status_code == 200
    assert WebSocketSession.objects.count() == 1


def test_a_secret_header_that_is_not_utf8_is_403_not_500(client: Client) -> None:
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "SHARED_SECRETS": [TEST_SECRET]}):
        for value in ("\udcff\udcfe", "caf\u00e9-\ud800", "\x00"):
            response = client.post("/ws/connect", data=b"", content_type="application/json",
                                   **{"HTTP_X_WEBSOCKET_SECRET": value})
            assert response.status_code == 403


def test_genuine_lambda_events_work_without_any_secret(handler: Any) -> None:
    ws = WebSocketTestClient(handler)
    assert ws.connect().status_code == 200
    assert ws.send({"action": "whoami"}).json()["connectionId"] == ws.connection_id
    assert ws.disconnect().status_code == 200
    assert not WebSocketSession.objects.get().connected


def test_genuine_lambda_events_work_with_secrets_configured(handler: Any) -> None:
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "SHARED_SECRETS": [TEST_SECRET]}):
        ws = WebSocketTestClient(handler)
        assert ws.connect().status_code == 200
        assert ws.send({"action": "whoami"}).status_code == 200


def test_the_adapter_does_not_hand_the_secret_to_views(handler: Any) -> None:
    with override_settings(WEBSOCKETS={"VIEW": "tests.urls.CountingView", "SHARED_SECRETS": [TEST_SECRET]}):
        ws = WebSocketTestClient(handler, api_id="abc123def4")
        ws.connect(headers={"Cookie": "a=b", "Origin": "https://testserver"})
    from tests.urls import CountingView

    assert TEST_SECRET not in json.dumps(CountingView.seen_connect)


def test_check_for_http_integration_without_a_secret() -> None:
    from django_aws_api_gateway_websockets.checks import check_settings

    def ids(values: dict[str, Any]) -> list[str]:
        with override_settings(WEBSOCKETS=values):
            return [m.id for m in check_settings()]

    assert "django_aws_api_gateway_websockets.E016" in ids({"HTTP_INTEGRATION": True})
    assert "django_aws_api_gateway_websockets.E016" not in ids({"HTTP_INTEGRATION": True, "SHARED_SECRETS": [TEST_SECRET]})
    assert "django_aws_api_gateway_websockets.E016" not in ids({})
    assert "django_aws_api_gateway_websockets.E017" in ids({"HTTP_INTEGRATION": "yes"})


@pytest.mark.parametrize(("domain", "endpoint"), [
    ("127.0.0.1:8000", "http://127.0.0.1:8000/local"), ("127.0.0.1", "http://127.0.0.1/local"),
    ("localhost", "http://localhost/local"), ("localhost:9000", "http://localhost:9000/local"),
    ("[::1]:8000", "http://[::1]:8000/local"), ("LOCALHOST:1", "http://LOCALHOST:1/local"),
    ("127.example.com", "https://127.example.com"), ("localhost.evil.example", "https://localhost.evil.example"),
    ("127.0.0.1.nip.io", "https://127.0.0.1.nip.io"), ("localhost:80.evil.example", "https://localhost:80.evil.example"),
    ("[::1].evil.example", "https://[::1].evil.example"), ("0.0.0.0:8000", "https://0.0.0.0:8000"),
    ("127.0.0.2:8000", "https://127.0.0.2:8000"), ("localhost:", "https://localhost:"),
])
def test_plain_http_only_for_exact_loopback_hosts(domain: str, endpoint: str) -> None:
    from django_aws_api_gateway_websockets.messaging import endpoint_for
    from django_aws_api_gateway_websockets.store import Connection as Stored

    with override_settings(WEBSOCKETS={}):
        assert endpoint_for(Stored(connection_id="c=", domain_name=domain, stage="local")) == endpoint
