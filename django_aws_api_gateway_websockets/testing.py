"""Test helpers for projects using this app, in the spirit of Channels' ``WebsocketCommunicator``.

::

    from django_aws_api_gateway_websockets.testing import WebSocketTestClient

    def test_echo(db):
        ws = WebSocketTestClient()
        assert ws.connect().status_code == 200
        assert ws.send({"action": "echo", "data": 1}).json() == {"route": "echo", "data": 1}
        ws.disconnect()

Every call builds the event API Gateway would send (the same builder the local gateway uses) and runs it
through a Lambda handler: by default one made from your project's WSGI application and ``WEBSOCKETS["VIEW"]``.
Routes may be sync or async either way. In async tests, await ``aconnect``, ``asend`` and ``adisconnect``: the
handler then runs off the test's event loop (``sync_to_async``, thread-sensitive: in Django's async test
methods its database work stays on the test's thread and in its transaction)::

    class ChatTests(TestCase):
        async def test_echo(self):
            ws = WebSocketTestClient()
            self.assertEqual((await ws.aconnect()).status_code, 200)
            self.assertEqual((await ws.asend({"action": "echo", "data": 1})).json()["data"], 1)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.utils.asyncio import async_unsafe

from .events import Connection

__all__ = ["EventFactory", "WebSocketResponse", "WebSocketTestClient"]

EventFactory = Connection
Handler = Callable[[Any, Any], dict[str, Any]]

_default_handler: Handler | None = None


def _sync_call(name: str) -> Any:
    """Refuse the blocking call ``name`` in an async test with a message naming its awaitable twin: the handler
    would run on the test's event loop, where every ORM query and async route fails (a 500 reply, not an error)."""
    return async_unsafe(f"WebSocketTestClient.{name}() cannot run on the event loop of an async test: "
                        f"use await ws.a{name}(...) instead.")


def default_handler() -> Handler:
    """A handler for the project's WSGI application, created once per process."""
    global _default_handler
    if _default_handler is None:
        from django.core.wsgi import get_wsgi_application

        from .lambda_adapter import make_websocket_handler

        _default_handler = make_websocket_handler(get_wsgi_application())
    return _default_handler


@dataclass
class WebSocketResponse:
    status_code: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class WebSocketTestClient:
    """One simulated socket: ``connect``, ``send`` and ``disconnect``, each returning the handler's response."""

    def __init__(self, handler: Handler | None = None, *, route_selection_key: str | None = None,
                 routes: list[str] | None = None, **connection: Any) -> None:
        self.handler = handler or default_handler()
        self.connection = Connection(**connection)
        self.cookies: dict[str, str] = {}
        self.responses: list[WebSocketResponse] = []
        self._route_selection_key = route_selection_key
        self._routes = routes

    @property
    def connection_id(self) -> str:
        return self.connection.connection_id

    def force_login(self, user: Any) -> None:
        """Log ``user`` in with a real Django session; its cookie is sent on connect."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        self.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value

    def run(self, event: dict[str, Any]) -> WebSocketResponse:
        result = self.handler(event, None)
        response = WebSocketResponse(
            status_code=int(result["statusCode"]),
            body=str(result.get("body", "")),
            headers=dict(result.get("headers") or {}),
            event=event,
        )
        self.responses.append(response)
        return response

    @_sync_call("connect")
    def connect(self, headers: Mapping[str, str] | None = None, query: Mapping[str, Any] | None = None,
                origin: str | None = None) -> WebSocketResponse:
        merged = dict(headers or {})
        if self.cookies:
            merged.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if origin is not None:
            merged["Origin"] = origin
        return self.run(self.connection.connect_event(headers=merged, query=query))

    @_sync_call("send")
    def send(self, data: Any, *, route_key: str | None = None, binary: bool = False) -> WebSocketResponse:
        """Send ``data``: a dict/list is sent as JSON, str and bytes as they are. The routeKey is chosen the way
        API Gateway chooses it, unless given."""
        body: str | bytes = data if isinstance(data, (str, bytes)) else json.dumps(data)
        if route_key is None:
            route_key = self._route_key(body)
        return self.run(self.connection.message_event(body, route_key=route_key, binary=binary))

    @_sync_call("disconnect")
    def disconnect(self, status_code: int = 1000, reason: str = "") -> WebSocketResponse:
        return self.run(self.connection.disconnect_event(status_code, reason))

    # Async tests: the same calls, run in a thread (thread-sensitive, as Django runs sync code from async).
    async def aconnect(self, headers: Mapping[str, str] | None = None, query: Mapping[str, Any] | None = None,
                       origin: str | None = None) -> WebSocketResponse:
        return await sync_to_async(self.connect)(headers, query, origin)

    async def asend(self, data: Any, *, route_key: str | None = None, binary: bool = False) -> WebSocketResponse:
        return await sync_to_async(self.send)(data, route_key=route_key, binary=binary)

    async def adisconnect(self, status_code: int = 1000, reason: str = "") -> WebSocketResponse:
        return await sync_to_async(self.disconnect)(status_code, reason)

    def _route_key(self, body: str | bytes) -> str:
        from .routing import configured_view, select_route_key

        if self._routes is None or self._route_selection_key is None:
            view = configured_view()
            self._routes = self._routes if self._routes is not None else list(view.routes)
            self._route_selection_key = self._route_selection_key or view.route_selection_key
        return select_route_key(body, self._routes, self._route_selection_key)
