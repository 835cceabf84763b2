"""Whatever a route handler raises, and whatever a client puts in an event, a socket gets a JSON error with
the right status: never a 500 for bad input, never an HTML page, with DEBUG on and off."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets.events import Connection
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.urls import RaisingView

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    return make_websocket_handler(get_wsgi_application(), view=RaisingView, url_namespace="raising")


@pytest.fixture
def ws(handler: Any) -> WebSocketTestClient:
    client = WebSocketTestClient(handler, routes=list(RaisingView.routes), route_selection_key="action")
    assert client.connect().status_code == 200
    return client


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.body[:300]
    assert response.headers.get("Content-Type") == "application/json"
    assert len(response.body) < 300 and "<" not in response.body
    data = response.json()
    assert isinstance(data["error"], str)
    return data


CASES = [("BadRequest", 400, "bad input"), ("SuspiciousOperation", 400, "Bad request."),
         ("PermissionDenied", 403, "not yours"), ("Http404", 404, "no such room"),
         ("ValidationError", 400, "too short; too plain"), ("Teapot", 418, "short and stout"),
         ("bug", 500, "Internal server error.")]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(("kind", "status", "message"), CASES)
def test_exceptions_in_routes_answer_json(ws: WebSocketTestClient, debug: bool, kind: str, status: int,
                                          message: str) -> None:
    with override_settings(DEBUG=debug):
        data = assert_json_error(ws.send({"action": "raise", "kind": kind}), status)
    assert data == {"error": message}


def test_a_plain_bug_is_logged_with_its_traceback(ws: WebSocketTestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        ws.send({"action": "raise", "kind": "bug"})
    record = next(r for r in caplog.records if r.name == "django_aws_api_gateway_websockets")
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_suspicious_operations_go_to_djangos_security_logger(ws: WebSocketTestClient,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    ws.send({"action": "raise", "kind": "SuspiciousOperation"})
    assert any(r.name == "django.security.SuspiciousOperation" for r in caplog.records)


def test_the_documented_hook_maps_a_projects_own_exceptions(ws: WebSocketTestClient) -> None:
    response = ws.send({"action": "raise", "kind": "Mapped"})
    assert (response.status_code, response.json()) == (409, {"error": "mapped by the hook", "kind": "lookup"})


@pytest.mark.parametrize("debug", [False, True])
def test_an_error_before_the_view_is_json_too(handler: Any, debug: bool) -> None:
    """A custom domain missing from ALLOWED_HOSTS: Django refuses the Host before the view runs; with DEBUG
    that is a technical HTML page, which must not reach a socket."""
    connection = Connection(api_id="abc123def4", domain_name="ws.not-allowed.example")
    with override_settings(DEBUG=debug):
        response = handler(connection.connect_event(), None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {"error": "Bad Request"}


@pytest.mark.parametrize("nesting", [1_000, 5_000, 100_000])
def test_deep_nesting_is_400(ws: WebSocketTestClient, nesting: int) -> None:
    for body in ("[" * nesting + "]" * nesting, '{"action": "raise", "x": ' + "[" * nesting + "]" * nesting + "}",
                 "[" * nesting, "{\"a\":" * nesting + "1" + "}" * nesting):
        assert_json_error(ws.send(body), 413 if len(body) > 128 * 1024 else 400)


def test_nesting_up_to_the_limit_is_fine(ws: WebSocketTestClient) -> None:
    depth = RaisingView.max_json_depth
    ok = '{"action": "nope", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    assert ws.send(ok).json()["error"] == "Unknown route."
    too_deep = '{"action": "nope", "x": ' + "[" * depth + "]" * depth + "}"
    assert "nested too deeply" in ws.send(too_deep).json()["error"]


# Malformed requestContext values ---------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("identity", "not a dict"), ("identity", ["a"]), ("identity", 7),
    ("disconnectStatusCode", -1), ("disconnectStatusCode", 2**63), ("disconnectStatusCode", 10**30),
    ("disconnectStatusCode", "1000"), ("disconnectStatusCode", 1.5), ("disconnectStatusCode", True),
    ("disconnectReason", {"x": 1}), ("disconnectReason", 5),
    ("connectionId", "a" * 200), ("connectionId", "bad\u0000id="), ("connectionId", "bad\ud800="),
    ("connectionId", "has space="), ("apiId", "x" * 100), ("apiId", "api\u0000"), ("stage", "st\u0000age"),
    ("stage", "s" * 200), ("stage", "../x"),
])
def test_malformed_request_context_values_are_400(handler: Any, field: str, value: Any) -> None:
    connection = Connection(api_id="abc123def4")
    assert handler(connection.connect_event(), None)["statusCode"] == 200
    for event in (connection.connect_event(), connection.message_event('{"action": "join", "group": "g"}'),
                  connection.disconnect_event()):
        event["requestContext"][field] = value
        response = handler(event, None)
        assert response["statusCode"] == 400, (event["requestContext"]["eventType"], response)
        assert field in json.loads(response["body"])["error"]


def test_a_hostile_close_reason_and_user_agent_are_stored_safely(handler: Any) -> None:
    connection = Connection(api_id="abc123def4", user_agent="agent\u0000with\u0007controls\ud800")
    assert handler(connection.connect_event(), None)["statusCode"] == 200
    assert handler(connection.disconnect_event(4000, "bye\u0000\ud800\x1b[31m"), None)["statusCode"] == 200
    session = WebSocketSession.objects.get()
    assert not session.connected and "\u0000" not in session.disconnect_reason + session.user_agent
    assert session.disconnect_reason.startswith("bye")


# Group names ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", ["nul\u0000byte", "lone\ud800surrogate", "bell\u0007", "new\nline", "del\u007f",
                                   "", "x" * 151, 5, None, ["a"], {"a": 1}, "\u200bzero-width-only\u2028"])
def test_hostile_group_names_are_400(ws: WebSocketTestClient, group: Any) -> None:
    assert_json_error(ws.send({"action": "join", "group": group}), 400)
    assert not WebSocketGroupMembership.objects.exists()


@pytest.mark.parametrize("group", ["room:lobby", "ü-ñ-中文", "a" * 150, "with space", "emoji-\U0001f600"])
def test_ordinary_group_names_are_fine(ws: WebSocketTestClient, group: str) -> None:
    assert ws.send({"action": "join", "group": group}).json() == {"groups": [group]}


def test_the_test_client_copes_with_empty_query_lists(handler: Any) -> None:
    ws = WebSocketTestClient(handler, routes=list(RaisingView.routes), route_selection_key="action")
    assert ws.connect(query={"empty": [], "one": ["1"], "two": ["a", "b"]}).status_code == 200
