"""The bridge under test: the tests' Channels app behind ChannelsWebSocketView, events through the Lambda
handler, @connections posts to the fault server (a real HTTP server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets.testing import WebSocketTestClient

ORIGIN = "https://chat.example.com"
LAYER = "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"


def bridge_settings(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"VIEW": "django_aws_api_gateway_websockets.channels_compat.ChannelsWebSocketView",
            "CHANNELS_APPLICATION": "tests.channels.asgi.application", "ENDPOINT_URL": endpoint,
            "ALLOWED_ORIGINS": [ORIGIN], "CONNECT_RATE_LIMIT_PER_IP": None, **extra}


@pytest.fixture
def bridge(request: pytest.FixtureRequest, fault_server: Any, settings: Any) -> Iterator[Any]:
    """A Lambda handler for the bridge view (the view, its URLs and the layer configured as a project would).
    Parametrize indirectly with "dynamodb" for the DynamoDB store on the moto server (default: the ORM store)."""
    from django.core.wsgi import get_wsgi_application

    from django_aws_api_gateway_websockets.channels_compat.routing import reset_routing
    from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
    from django_aws_api_gateway_websockets.store import reset_stores

    extra: dict[str, Any] = {}
    if getattr(request, "param", "orm") == "dynamodb":
        extra = {"STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
                 "DYNAMODB_TABLE": request.getfixturevalue("dynamodb_table"),
                 "DYNAMODB_ENDPOINT_URL": request.getfixturevalue("moto_server")}
    settings.ROOT_URLCONF = "tests.channels.urls"
    with override_settings(WEBSOCKETS=bridge_settings(fault_server.url, **extra),
                           CHANNEL_LAYERS={"default": {"BACKEND": LAYER}}):
        reset_routing()
        reset_stores()
        yield make_websocket_handler(get_wsgi_application())
    reset_routing()
    reset_stores()


def join_flushes() -> None:
    """Wait for the background threads sending connect queues (they end within CHANNELS_CONNECT_FLUSH_TIMEOUT)."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "ws-connect-flush":
            thread.join(timeout=15)
            assert not thread.is_alive()


@pytest.fixture
def socket(bridge: Any) -> Callable[..., WebSocketTestClient]:
    """A factory of simulated sockets on the bridge: ``socket("/ws/echo/")`` is connected, or ``connect=False``."""

    def make(path: str | None = None, *, connect: bool = True, query: dict[str, Any] | None = None,
             origin: str | None = ORIGIN, connection_id: str | None = None,
             headers: dict[str, str] | None = None) -> WebSocketTestClient:
        ids = {"connection_id": connection_id} if connection_id else {}
        client = WebSocketTestClient(bridge, route_selection_key="action", routes=[], **ids)
        if connect:
            merged = dict(query or {})
            if path is not None:
                merged["path"] = path
            response = client.connect(query=merged, origin=origin, headers=headers or {})
            client.connect_response = response  # type: ignore[attr-defined]
        return client

    return make
