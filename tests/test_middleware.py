"""Middleware a project turns on never breaks or silently bounces WebSocket events.

LoginRequiredMiddleware (Django 5.1+) leaves WebSocket views alone (they decide about users themselves);
a response that Django or a middleware gives before the view runs (a redirect: PREPEND_WWW, a project's own
middleware) becomes a logged JSON error, never a 3xx that API Gateway cannot follow; SECURE_SSL_REDIRECT never
redirects an event the Lambda adapter made (API Gateway's events are https).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.test import Client, override_settings

from django_aws_api_gateway_websockets.events import Connection
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from tests.helpers import GatewayPoster

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"
BROWSER = {"Cookie": "theme=dark", "Origin": "https://testserver"}


def redirect_everything(get_response: Any) -> Any:
    """A project's own middleware that sends every request elsewhere."""

    def middleware(request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect("https://elsewhere.example/")

    return middleware


def ok_everything(get_response: Any) -> Any:
    """A middleware answering 200 with a page before any view runs (a maintenance page, say)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        return HttpResponse("<h1>Down for maintenance</h1>")

    return middleware


def handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    from tests.urls import CountingView

    return make_websocket_handler(get_wsgi_application(), view=CountingView, url_namespace="base")


def a_socket(h: Any) -> list[dict[str, Any]]:
    connection = Connection(api_id="mw01mw02mw")
    return [h(connection.connect_event(BROWSER), None), h(connection.message_event('{"action": "ping"}'), None),
            h(connection.disconnect_event(), None)]


def test_login_required_middleware_leaves_websocket_views_alone(client: Client) -> None:
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, LOGIN_REQUIRED]):
        connect, message, disconnect = a_socket(handler())
        assert [connect["statusCode"], message["statusCode"], disconnect["statusCode"]] == [200, 200, 200]
        assert json.loads(message["body"]) == {"pong": True, "user": None}
        # HTTP integration mode too (the path without the adapter).
        poster = GatewayPoster(client, "/base/")
        assert poster.connect("Lr0gin0001=").status_code == 200
        assert poster.message({"action": "ping"}, "Lr0gin0001=").status_code == 200
        # The project's pages still need a login: the middleware is on.
        assert client.get("/base/token").status_code == 302


@pytest.mark.parametrize(("overrides", "log_text"), [
    ({"PREPEND_WWW": True}, "301 Moved Permanently (Location: https://www."),
    ({"MIDDLEWARE": ["tests.test_middleware.redirect_everything"]}, "302 Found (Location: https://elsewhere.example/)"),
    ({"MIDDLEWARE": ["tests.test_middleware.ok_everything"]}, "200 OK"),
])
def test_an_answer_the_view_did_not_give_is_a_logged_json_error(overrides: dict[str, Any], log_text: str,
                                                                caplog: Any) -> None:
    with override_settings(**overrides), caplog.at_level(logging.ERROR, logger="django_aws_api_gateway_websockets"):
        responses = a_socket(handler())
    for response in responses:
        assert response["statusCode"] == 500, response
        assert response["headers"]["Content-Type"] == "application/json"
        assert json.loads(response["body"]) == {"error": "Internal server error."}
        assert "Location" not in response["headers"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3 and all(log_text in e and "before reaching the WebSocket view" in e for e in errors)


def test_secure_ssl_redirect_never_redirects_an_event_from_the_adapter() -> None:
    with override_settings(SECURE_SSL_REDIRECT=True, DEBUG=True):
        connect, message, disconnect = a_socket(handler())
    assert [connect["statusCode"], message["statusCode"], disconnect["statusCode"]] == [200, 200, 200]
