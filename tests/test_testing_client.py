"""The public test client, used the way a project would use it against its own view."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth import get_user_model

from django_aws_api_gateway_websockets.testing import WebSocketTestClient

pytestmark = pytest.mark.django_db


def test_wscat_like_client_connects_anonymously() -> None:
    ws = WebSocketTestClient()
    assert ws.connect().status_code == 200
    assert ws.send({"action": "echo", "data": [1, "two"]}).json() == {"route": "echo", "data": [1, "two"]}
    who = ws.send({"action": "whoami"}).json()
    assert who["authenticated"] is False
    assert ws.disconnect().status_code == 200
    assert [r.status_code for r in ws.responses] == [200, 200, 200, 200]


def test_route_key_is_chosen_like_api_gateway() -> None:
    ws = WebSocketTestClient()
    ws.connect()
    assert ws.send({"action": "whoami"}).event["requestContext"]["routeKey"] == "whoami"
    assert ws.send({"action": "dispatch"}).event["requestContext"]["routeKey"] == "$default"
    assert ws.send("plain text").event["requestContext"]["routeKey"] == "$default"


def test_force_login_sends_the_session_cookie() -> None:
    user = get_user_model().objects.create_user("tess", password="pw-0123456789")
    ws = WebSocketTestClient()
    ws.force_login(user)
    assert ws.connect(origin="https://localhost").status_code == 403  # not an allowed origin in tests
    ws2 = WebSocketTestClient()
    ws2.force_login(user)
    assert ws2.connect().status_code == 200
    assert ws2.send({"action": "whoami"}).json()["name"] == "tess"


@pytest.mark.parametrize("call", ["connect", "send", "disconnect"])
def test_a_blocking_call_in_an_async_test_names_its_awaitable_twin(call: str) -> None:
    """Run on an async test's event loop, the handler would answer 500 (ORM queries and async routes cannot run
    there): the client says what to await instead."""
    from django.core.exceptions import SynchronousOnlyOperation

    ws = WebSocketTestClient()
    arguments = {"send": ({"action": "echo"},)}.get(call, ())

    async def misuse() -> None:
        getattr(ws, call)(*arguments)

    with pytest.raises(SynchronousOnlyOperation, match=rf"use await ws\.a{call}\("):
        asyncio.run(misuse())
    assert ws.responses == []  # nothing reached the handler
