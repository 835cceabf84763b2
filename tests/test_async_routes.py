"""Async handlers through lambda_handler-style handlers and the test client: routes, connect/disconnect/default
overrides, errors, request ids, the async send helpers, and async tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.test import TestCase, override_settings
from hypothesis import given

from django_aws_api_gateway_websockets.aio import run_async, shared_loop
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.messaging import asend_to_group
from django_aws_api_gateway_websockets.store import get_store, reset_stores
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.feature_views import FeatureView
from tests.fuzzing import fuzz, json_values

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    return make_websocket_handler(get_wsgi_application(), view=FeatureView, url_namespace="features")


@pytest.fixture
def endpoint(fault_server: Any) -> Any:
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "ENDPOINT_URL": fault_server.url}):
        reset_stores()
        yield fault_server
    reset_stores()


def client(handler: Any, **kwargs: Any) -> WebSocketTestClient:
    return WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action", **kwargs)


def test_async_and_sync_routes_on_one_view_run_on_one_shared_loop(handler: Any) -> None:
    FeatureView.events.clear()
    ws = client(handler)
    assert ws.connect().status_code == 200  # an async connect override
    assert FeatureView.events == [f"connect:{ws.connection_id}"]
    ws.send({"action": "join", "room": "mixed"})  # a sync route
    first = ws.send({"action": "aecho", "data": [1, "two"]}).json()
    second = ws.send({"action": "aecho", "data": None}).json()
    assert first["data"] == [1, "two"] and first["groups"] == ["room:mixed"]  # a store query from async code
    assert first["loop"] == second["loop"] == id(shared_loop())  # one loop per process, not one per message
    assert first["loop"] != id(asyncio.new_event_loop())
    assert ws.send({"action": "echo", "data": 3}).json() == {"route": "echo", "data": 3}
    assert ws.send({"action": "nope"}).json() == {"error": "No such route (async default).", "action": "nope"}
    assert ws.disconnect(1001).status_code == 200
    assert FeatureView.events[-1] == f"disconnect:{ws.connection_id}"  # an async disconnect override
    assert not get_store().get(ws.connection_id).connected  # type: ignore[union-attr]


@pytest.mark.parametrize("debug", [False, True])
def test_what_async_handlers_raise_goes_through_handle_exception(handler: Any, debug: bool,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(DEBUG=debug):
        ws = client(handler)
        assert ws.connect(query={"refuse": "async"}).status_code == 403
        ws = client(handler)
        ws.connect()
        bad = ws.send({"action": "araise", "kind": "bad"})
        assert (bad.status_code, bad.json()) == (400, {"error": "async bad input"})
        denied = ws.send({"action": "araise", "kind": "denied"})
        assert (denied.status_code, denied.json()) == (403, {"error": "async not yours"})
        bug = ws.send({"action": "araise", "kind": "bug"})
        assert (bug.status_code, bug.json()) == (500, {"error": "Internal server error."})
        assert bug.headers["Content-Type"] == "application/json"
    assert any("an async bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_request_ids_are_echoed_in_replies_and_errors(handler: Any) -> None:
    ws = client(handler)
    ws.connect()
    assert ws.send({"action": "echo", "data": 1, "requestId": "r-1"}).json() == {"requestId": "r-1", "route": "echo",
                                                                                 "data": 1}
    assert ws.send({"action": "aecho", "requestId": 7}).json()["requestId"] == 7  # async routes too
    refused = ws.send({"action": "post", "room": "x", "text": "hi", "requestId": "r-2"})
    assert (refused.status_code, refused.json()) == (403, {"requestId": "r-2", "error": "Join the room before posting to it."})
    assert ws.send({"action": "nope", "requestId": "r-3"}).json()["requestId"] == "r-3"  # the default handler's reply
    for bad in ("", "x" * 65, "a b", "r-1\n", "<script>", -1, 2**53, 1.5, True, None, [], {"a": 1}):
        reply = ws.send({"action": "echo", "requestId": bad})
        assert reply.status_code == 400 and "requestId" in reply.json()["error"], bad
        assert "requestId" not in reply.json()
    assert ws.send("not json").body.startswith("raw text")  # a raw reply is left as it is


@fuzz(60)
@given(value=json_values)
def test_any_request_id_gets_a_4xx_or_its_echo_never_a_5xx(handler: Any, value: Any) -> None:
    ws = client(handler)
    ws.connect()
    reply = ws.send({"action": "echo", "data": 1, "requestId": value})
    assert reply.status_code in (200, 400), reply.body
    if reply.status_code == 200:
        assert reply.json()["requestId"] == value
    else:
        assert "requestId" in reply.json()["error"]


def test_async_send_helpers_reach_the_endpoint(handler: Any, endpoint: Any, django_user_model: Any) -> None:
    ws, other = client(handler), client(handler)
    ws.force_login(django_user_model.objects.create_user("ada"))
    ws.connect()
    other.connect()
    for member in (ws, other):
        member.send({"action": "ajoin", "group": "team"})
    reply = ws.send({"action": "apush", "group": "team"}).json()
    assert reply["sent"] == [1, 2, 1, 1] and reply["gone"] == [0, 0, 0, 0]
    received = endpoint.received[ws.connection_id]
    assert json.loads(received[0]) == {"type": "note", "via": "connection", "messageId": "m-1"}
    assert [json.loads(r)["via"] for r in received[1:3]] == ["group", "user"]
    assert received[3] == b"plain text, not JSON"  # raw text, not a JSON string
    assert [json.loads(r)["via"] for r in endpoint.received[other.connection_id]] == ["group"]


def test_async_sends_do_not_block_the_event_loop(handler: Any, endpoint: Any) -> None:
    """Three members answer each post after 50 ms: while their posts are awaited, other coroutines on the
    same loop keep running."""
    for n in range(3):
        ws = client(handler, connection_id=f"slow-{n}AbC=")
        ws.connect()
        ws.send({"action": "ajoin", "group": "slow"})

    async def both() -> tuple[Any, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(ticker())
        result = await asend_to_group("slow", {"type": "note"})
        done.set()
        await task
        return result, ticks

    result, ticks = run_async(both)
    assert result.sent == 3
    # The posts took at least 50 ms and the loop ran the ticker meanwhile (a blocking send would leave it at 0).
    assert ticks >= 3


@pytest.mark.parametrize("call", ["join_group", "presence_members", "send_to_group", "broadcast"])
def test_a_blocking_helper_in_an_async_route_is_refused_with_the_async_name(
        handler: Any, endpoint: Any, call: str, caplog: pytest.LogCaptureFixture) -> None:
    """Called from an async handler, a sync send or store helper would hold the process's one shared loop for
    its whole run (with connections in hand, broadcast() makes no store call that could refuse): it raises
    Django's SynchronousOnlyOperation naming the async variant, answered 500 like any bug, and posts nothing."""
    ws = client(handler, connection_id="slow-misuse=")
    ws.connect()
    ws.send({"action": "join", "room": "misuse"})
    endpoint.reset()
    reply = ws.send({"action": "amisuse", "call": call})
    assert (reply.status_code, reply.json()) == (500, {"error": "Internal server error."})
    error = next(r.exc_info[1] for r in caplog.records if r.exc_info)
    assert isinstance(error, SynchronousOnlyOperation)
    assert f"{call}() blocks the event loop" in str(error) and f"a{call}(" in str(error)
    assert not endpoint.received
    assert ws.send({"action": "aecho"}).status_code == 200  # the shared loop still serves


def test_a_blocking_send_is_still_allowed_where_django_allows_it(endpoint: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from django_aws_api_gateway_websockets.messaging import broadcast
    from django_aws_api_gateway_websockets.store import Connection

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    async def send() -> Any:
        return broadcast([Connection(connection_id="ok-unsafe=", domain_name="127.0.0.1")], {"n": 1})

    assert run_async(send).sent == 1


@override_settings(ROOT_URLCONF="tests.urls")
class AsyncTestClientTests(TestCase):
    """The test client in an async test: Django runs ``async def`` test methods on an event loop, and the
    handler (sync dispatch, async route) runs off it, its database work on the test's own thread."""

    async def test_the_test_client_in_an_async_test(self) -> None:
        from django.core.wsgi import get_wsgi_application

        handler = make_websocket_handler(get_wsgi_application(), view=FeatureView, url_namespace="features")
        ws = client(handler)
        self.assertEqual((await ws.aconnect()).status_code, 200)
        sync_reply = (await ws.asend({"action": "echo", "data": "sync route"})).json()
        async_reply = (await ws.asend({"action": "aecho", "data": "async route"})).json()
        self.assertEqual(sync_reply, {"route": "echo", "data": "sync route"})
        self.assertEqual(async_reply["data"], "async route")
        # The async route ran on the process's shared loop, not on this test's loop.
        self.assertEqual(async_reply["loop"], id(shared_loop()))
        self.assertNotEqual(async_reply["loop"], id(asyncio.get_running_loop()))
        self.assertEqual((await ws.adisconnect()).status_code, 200)
        connection = await sync_to_async(get_store().get)(ws.connection_id)
        self.assertFalse(connection is None or connection.connected)
