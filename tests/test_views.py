"""WebSocketView: documented defaults and every dispatch branch (HTTP integration mode)."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, RequestFactory, SimpleTestCase

from django_aws_api_gateway_websockets.apps import DjangoAwsApiGatewayWebsocketsConfig
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.views import WebSocketView
from tests.helpers import GatewayPoster, gateway_headers
from tests.urls import CountingView

pytestmark = pytest.mark.urls("tests.urls")


class WebSocketViewSimpleTestCase(SimpleTestCase):
    """For tests the do not require a DB"""

    def setUp(self) -> None:
        self.view = WebSocketView()

    def test__return_bad_request(self) -> None:
        view = WebSocketView()
        view.setup(RequestFactory().post("/", data=b"", content_type="application/json"))
        with self.assertLogs("django_aws_api_gateway_websockets", level="WARNING") as logs:
            response = view._return_bad_request("Some problem")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(json.loads(response.content), {"error": "Some problem"})
        self.assertIn("Some problem", logs.output[0])

    def test_default_aws_api_gateway_id(self) -> None:
        self.assertIsNone(self.view.aws_api_gateway_id)

    def test_default_body(self) -> None:
        self.assertEqual(WebSocketView.body, {})

    def test_default_model(self) -> None:
        self.assertIsNone(WebSocketView.model)

    def test_default_expected_useragent_prefix(self) -> None:
        self.assertEqual(self.view.expected_useragent_prefix, "AmazonAPIGateway_")

    def test_default_required_connection_headers(self) -> None:
        self.assertEqual(
            self.view.required_connection_headers,
            ["Cookie", "Origin", "Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Version"],
        )

    def test_default_required_headers(self) -> None:
        self.assertEqual(
            self.view.required_headers,
            ["Host", "X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Proto", "Connection", "Content-Length",
             "X-Forwarded-Port", "X-Amzn-Trace-Id", "Connectionid", "User-Agent", "X-Amzn-Apigateway-Api-Id"],
        )

    def test_default_route_selection_key(self) -> None:
        self.assertEqual(self.view.route_selection_key, "action")

    def test_documented_handlers_exist(self) -> None:
        for name in ("setup", "dispatch", "connect", "disconnect", "default", "missing_headers",
                     "invalid_useragent", "route_selection_key_missing"):
            self.assertTrue(callable(getattr(WebSocketView, name)), name)

    def test_app_config(self) -> None:
        self.assertEqual(DjangoAwsApiGatewayWebsocketsConfig.name, "django_aws_api_gateway_websockets")
        self.assertEqual(DjangoAwsApiGatewayWebsocketsConfig.verbose_name, "Django AWS ApiGateway Websockets")
        self.assertEqual(DjangoAwsApiGatewayWebsocketsConfig.default_auto_field, "django.db.models.BigAutoField")

    def test_setup_gives_each_instance_its_own_body(self) -> None:
        view = WebSocketView()
        view.setup(RequestFactory().post("/", data=b'{"action": "x"}', content_type="application/json"))
        self.assertEqual(view.body, {"action": "x"})
        self.assertEqual(WebSocketView.body, {})


@pytest.fixture
def base(client: Client) -> GatewayPoster:
    CountingView.calls.clear()
    return GatewayPoster(client, "/base/")


@pytest.fixture
def connected(base: GatewayPoster, db: None) -> GatewayPoster:
    assert base.connect().status_code == 200
    return base


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    return json.loads(response.content)["error"]


def test_get_is_not_allowed(client: Client) -> None:
    response = client.get("/base/messages", headers=gateway_headers())
    assert response.status_code == 405


def test_missing_headers_lists_missing_names(base: GatewayPoster, db: None) -> None:
    headers = gateway_headers()
    del headers["X-Amzn-Trace-Id"]
    response = base.client.post("/base/messages", data=b"{}", content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert "X-Amzn-Trace-Id" in error_of(response)


def test_connect_requires_connection_headers_by_default(base: GatewayPoster, db: None) -> None:
    response = base.client.post("/base/connect", data=b"", content_type="application/json", headers=gateway_headers())
    assert response.status_code == 400
    assert "Sec-Websocket-Key" in error_of(response)
    assert not WebSocketSession.objects.exists()


def test_invalid_useragent(base: GatewayPoster, db: None) -> None:
    response = base.connect(**{"User-Agent": "curl/8.0"})
    assert response.status_code == 400
    assert error_of(response) == "Invalid User-Agent."


def test_connect_creates_session_with_gateway_details(connected: GatewayPoster) -> None:
    session = WebSocketSession.objects.get(connection_id="Aa1Bb2Cc3Dd=")
    assert session.connected
    assert session.api_id == "testapi01"
    assert session.client_ip == "203.0.113.9"
    assert session.user is None
    assert session.user_agent == "AmazonAPIGateway_testapi01"


def test_repeated_connect_is_idempotent(connected: GatewayPoster) -> None:
    assert connected.connect().status_code == 200
    assert WebSocketSession.objects.count() == 1


def test_message_runs_declared_route(connected: GatewayPoster) -> None:
    response = connected.message({"action": "ping"})
    assert response.status_code == 200
    assert json.loads(response.content) == {"pong": True, "user": None}
    assert CountingView.calls == ["ping"]
    session = WebSocketSession.objects.get()
    assert session.message_count == 1


def test_missing_route_selection_key(connected: GatewayPoster) -> None:
    response = connected.message({"data": 1})
    assert response.status_code == 400
    assert error_of(response) == "Missing route selection key 'action'."


def test_unknown_route_goes_to_default(connected: GatewayPoster) -> None:
    response = connected.message({"action": "nope"})
    assert response.status_code == 400
    assert json.loads(response.content)["routes"] == ["inspect", "join", "leave", "ping"]
    assert CountingView.calls == ["default"]


@pytest.mark.parametrize(
    "name",
    ["dispatch", "setup", "connect", "disconnect", "__init__", "_private", "__class__", "default",
     "missing_headers", "http_method_not_allowed", "options", "join_group", "as_view", "store", "routes", "$connect"],
)
def test_internal_names_are_never_routes(connected: GatewayPoster, name: str) -> None:
    response = connected.message({"action": name})
    assert response.status_code == 400
    assert CountingView.calls == ["default"]
    assert WebSocketSession.objects.get().connected  # a body naming "disconnect" disconnects nothing


@pytest.mark.parametrize("value", [1, None, ["ping"], {"x": "ping"}, True])
def test_non_string_action_is_refused(connected: GatewayPoster, value: object) -> None:
    response = connected.message({"action": value})
    assert response.status_code == 400
    assert "must be a string" in error_of(response)
    assert CountingView.calls == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'["ping"]', "Message body must be a JSON object."),
        (b'"ping"', "Message body must be a JSON object."),
        (b"{not json", "Message body is not valid JSON."),
        (b'{"action": "\xff\xfe"}', "Message body is not valid UTF-8."),
        (b"NaN", "Message body must be a JSON object."),
    ],
)
def test_bad_bodies_get_clear_400(connected: GatewayPoster, raw: bytes, message: str) -> None:
    response = connected.message(raw)
    assert response.status_code == 400
    assert error_of(response) == message


def test_empty_body_is_missing_route_key(connected: GatewayPoster) -> None:
    response = connected.message(b"")
    assert response.status_code == 400
    assert "Missing route selection key" in error_of(response)


def test_huge_body_is_413(connected: GatewayPoster) -> None:
    response = connected.message({"action": "ping", "data": "x" * (128 * 1024)})
    assert response.status_code == 413
    assert "limit is 131072 bytes" in error_of(response)


def test_message_from_unknown_connection(base: GatewayPoster, db: None) -> None:
    response = base.message({"action": "ping"}, connection_id="NeverConnected=")
    assert response.status_code == 403
    assert error_of(response) == "Unknown or disconnected connection."


def test_disconnect_marks_session_and_is_idempotent(connected: GatewayPoster) -> None:
    assert connected.disconnect().status_code == 200
    session = WebSocketSession.objects.get()
    assert not session.connected
    assert session.disconnected_at is not None
    assert connected.disconnect().status_code == 200
    assert connected.disconnect(connection_id="Unknown=").status_code == 200
    response = connected.message({"action": "ping"})
    assert response.status_code == 403


def test_api_id_is_enforced_when_set(client: Client, db: None) -> None:
    locked = GatewayPoster(client, "/locked/")
    response = locked.message({"action": "ping"}, api_id="otherapi", **{"User-Agent": "AmazonAPIGateway_otherapi",
                                                                          "X-Amzn-Apigateway-Api-Id": "otherapi"})
    assert response.status_code == 403
    assert "unexpected API Gateway API" in error_of(response)


def test_login_required_refuses_anonymous_connect(client: Client, db: None) -> None:
    response = GatewayPoster(client, "/locked/").connect()
    assert response.status_code == 401
    assert not WebSocketSession.objects.exists()


def test_errors_never_echo_request_headers(base: GatewayPoster, db: None) -> None:
    marker = "<script>marker-5150</script>"
    responses = [
        base.connect(**{"User-Agent": marker}),
        base.connect(Origin=f"https://{marker}.example"),
        base.message({"action": marker}),
        base.message(b"{" + marker.encode(), connection_id=marker),
    ]
    for response in responses:
        assert response.status_code >= 400
        assert b"marker-5150" not in response.content


def test_bad_requests_are_logged(base: GatewayPoster, db: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="django_aws_api_gateway_websockets"):
        base.message(b"[1]")
    assert any("Message body" in r.getMessage() or "disconnected" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("method", ["dispatch", "connect", "disconnect", "setup", "_secret", "__call__"])
def test_decorating_a_handler_or_private_method_is_refused(method: str) -> None:
    from django_aws_api_gateway_websockets.routing import route

    def handler(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(TypeError, match="cannot be a WebSocket route"):
        type("BadView", (WebSocketView,), {method: route("innocent")(handler)})


@pytest.mark.parametrize("name", ["", "$connect", "$default", "a b", "x" * 129, None, 5])
def test_invalid_route_names(name: object) -> None:
    from django_aws_api_gateway_websockets.routing import route

    with pytest.raises(ValueError):
        route(name)  # type: ignore[arg-type]
