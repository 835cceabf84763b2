"""request.user across connect -> message -> disconnect, and what ends a user's right to send."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from django_aws_api_gateway_websockets import signals
from django_aws_api_gateway_websockets.models import WebSocketSession
from tests.helpers import TEST_SECRET, GatewayPoster

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def user():  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("grace", password="original-pass-123")


@pytest.fixture
def browser(client: Client, user) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"sessionid={client.cookies['sessionid'].value}"


def test_user_from_cookie_follows_the_connection(browser: Client, user) -> None:  # type: ignore[no-untyped-def]
    gateway = GatewayPoster(Client(), "/base/")  # API Gateway itself holds no cookie of the user
    assert gateway.connect(Cookie=cookie_of(browser)).status_code == 200
    assert WebSocketSession.objects.get().user == user
    response = gateway.message({"action": "ping"})
    assert json.loads(response.content) == {"pong": True, "user": "grace"}
    assert gateway.disconnect().status_code == 200
    assert gateway.message({"action": "ping"}).status_code == 403


def test_anonymous_without_cookie(client: Client) -> None:
    gateway = GatewayPoster(client, "/base/")
    gateway.connect()
    assert json.loads(gateway.message({"action": "ping"}).content)["user"] is None


def test_bogus_cookie_is_anonymous(client: Client) -> None:
    gateway = GatewayPoster(client, "/base/")
    assert gateway.connect(Cookie="sessionid=forged-session-key").status_code == 200
    assert WebSocketSession.objects.get().user is None


def test_login_required_accepts_logged_in_user(browser: Client) -> None:
    gateway = GatewayPoster(Client(), "/locked/")
    assert gateway.connect(Cookie=cookie_of(browser)).status_code == 200


def test_deactivated_user_stops_messages(browser: Client, user) -> None:  # type: ignore[no-untyped-def]
    gateway = GatewayPoster(Client(), "/base/")
    gateway.connect(Cookie=cookie_of(browser))
    user.is_active = False
    user.save()
    response = gateway.message({"action": "ping"})
    assert response.status_code == 401
    assert not WebSocketSession.objects.get().connected


def test_changed_password_stops_messages(browser: Client, user) -> None:  # type: ignore[no-untyped-def]
    gateway = GatewayPoster(Client(), "/base/")
    gateway.connect(Cookie=cookie_of(browser))
    assert gateway.message({"action": "ping"}).status_code == 200
    user.set_password("a-brand-new-pass-456")
    user.save()
    assert gateway.message({"action": "ping"}).status_code == 401


@override_settings(WEBSOCKETS={"ENDPOINT_URL": "http://127.0.0.1:9", "SHARED_SECRETS": [TEST_SECRET]})
def test_logout_closes_the_users_connections(browser: Client, user) -> None:  # type: ignore[no-untyped-def]
    gateway = GatewayPoster(Client(), "/base/")
    gateway.connect("one=", Cookie=cookie_of(browser))
    gateway.connect("two=", Cookie=cookie_of(browser), **{"X-Forwarded-For": "198.51.100.1"})
    gateway.connect("anon=")
    browser.logout()
    states = dict(WebSocketSession.objects.values_list("connection_id", "connected"))
    assert states == {"one=": False, "two=": False, "anon=": True}
    assert WebSocketSession.objects.get(connection_id="one=").disconnect_reason == "logout"


def test_signals_are_sent(client: Client) -> None:
    seen: list[tuple[str, str]] = []

    def on_connect(sender, connection, **kw):  # type: ignore[no-untyped-def]
        seen.append(("connected", connection.connection_id))

    def on_message(sender, connection, route, body, **kw):  # type: ignore[no-untyped-def]
        seen.append(("message", route))

    def on_disconnect(sender, connection, **kw):  # type: ignore[no-untyped-def]
        seen.append(("disconnected", connection.connection_id))

    signals.websocket_connected.connect(on_connect)
    signals.websocket_message_received.connect(on_message)
    signals.websocket_disconnected.connect(on_disconnect)
    try:
        gateway = GatewayPoster(client, "/base/")
        gateway.connect("sig=")
        gateway.message({"action": "ping"}, connection_id="sig=")
        gateway.disconnect("sig=")
        gateway.disconnect("sig=")  # a repeated disconnect sends nothing more
    finally:
        signals.websocket_connected.disconnect(on_connect)
        signals.websocket_message_received.disconnect(on_message)
        signals.websocket_disconnected.disconnect(on_disconnect)
    assert seen == [("connected", "sig="), ("message", "ping"), ("disconnected", "sig=")]
