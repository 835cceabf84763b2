"""Finding consumers in a project's Channels routing, and the system checks of the bridge."""

from __future__ import annotations

from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import path, re_path

from django_aws_api_gateway_websockets.channels_compat.checks import check_channels_bridge
from django_aws_api_gateway_websockets.channels_compat.routing import load_routing, reset_routing

from . import consumers
from .conftest import LAYER, bridge_settings


class TimingMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return await self.inner(scope, receive, send)


application = ProtocolTypeRouter({"websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
    re_path(r"^ws/a/(?P<x>\d+)/$", consumers.EchoConsumer.as_asgi()),
    path("ws/b/<int:n>/", TimingMiddleware(consumers.JsonEchoConsumer.as_asgi()), {"fixed": "yes"}),
    path("ws/nest/<slug:s>/", URLRouter([re_path(r"^(\w+)/$", consumers.AsyncRoomConsumer.as_asgi())])),
])))})


def test_paths_resolve_as_url_router_resolves_them() -> None:
    routing = load_routing(application)
    found = routing.resolve("/ws/a/7/")
    assert found is not None and found.consumer_class is consumers.EchoConsumer
    assert found.url_route == {"args": (), "kwargs": {"x": "7"}}
    assert len(found.validators) == 1  # AllowedHostsOriginValidator's check runs at connect
    b = routing.resolve("/ws/b/3/")
    assert b is not None and b.consumer_class is consumers.JsonEchoConsumer
    assert b.url_route["kwargs"] == {"n": 3, "fixed": "yes"}  # converters and default kwargs, as Django's
    nested = routing.resolve("/ws/nest/blue/room1/")
    assert nested is not None and nested.consumer_class is consumers.AsyncRoomConsumer
    assert nested.url_route == {"args": ("room1",), "kwargs": {"s": "blue"}}
    assert routing.resolve("/ws/a/x/") is None and routing.resolve("/ws/nest/blue/") is None
    assert routing.middleware == ["OriginValidator", "CookieMiddleware", "SessionMiddleware", "AuthMiddleware",
                                  "TimingMiddleware"]
    with pytest.raises(ImproperlyConfigured):
        load_routing(ProtocolTypeRouter({"http": object()}))


def _check(**websockets: Any) -> list[str]:
    reset_routing()
    try:
        with override_settings(WEBSOCKETS=bridge_settings("http://127.0.0.1:9", **websockets),
                               CHANNEL_LAYERS={"default": {"BACKEND": LAYER}}):
            return [m.id for m in check_channels_bridge()]
    finally:
        reset_routing()


def test_system_checks() -> None:
    assert _check() == []
    assert _check(CHANNELS_APPLICATION="tests.channels.test_routing_and_checks.application") == [
        "django_aws_api_gateway_websockets.W101"]  # TimingMiddleware would not run
    assert _check(CHANNELS_APPLICATION="tests.channels.nowhere.application") == ["django_aws_api_gateway_websockets.E101"]
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
        reset_routing()
        with override_settings(WEBSOCKETS=bridge_settings("http://127.0.0.1:9")):
            assert [m.id for m in check_channels_bridge()] == ["django_aws_api_gateway_websockets.E102"]
    with override_settings(CHANNEL_LAYERS={}, WEBSOCKETS=bridge_settings("http://127.0.0.1:9")):
        assert [m.id for m in check_channels_bridge()] == ["django_aws_api_gateway_websockets.W102"]
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView"}):
        assert check_channels_bridge() == []  # not using the bridge: nothing to say


def test_the_app_and_its_checks_work_without_channels_installed() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['channels'] = None\n"  # as if Channels were not installed
            "import django; django.setup()\n"
            "from django.core.management import call_command; call_command('check')\n"
            "import django_aws_api_gateway_websockets.channels_compat as bridge\n"
            "try:\n    bridge.ChannelLayer\nexcept ImportError:\n    print('bridge needs channels')\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr
    assert "bridge needs channels" in result.stdout
