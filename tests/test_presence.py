"""Presence on both stores (SQLite and DynamoDB on moto server), pushed through a real @connections endpoint:
joined and left events for joins, leaves, dropped sockets ($disconnect 1006), server-side closes and posts that
find a connection gone; member lists as stored at connect."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.messaging import close_connection
from django_aws_api_gateway_websockets.presence import members
from django_aws_api_gateway_websockets.store import get_store, reset_stores
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.feature_views import FeatureView

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def endpoint(chat_endpoint: Any) -> Any:
    return chat_endpoint  # the chat on each store, pushing to the fault server (tests/conftest.py)


@pytest.fixture
def handler() -> Any:
    from django.core.wsgi import get_wsgi_application

    return make_websocket_handler(get_wsgi_application(), view=FeatureView, url_namespace="features")


def presence(server: Any, connection_id: str) -> list[tuple[str, str, str]]:
    """(event, group, member name) of each presence event pushed to the connection, in order."""
    events = [json.loads(data) for data in server.received.get(connection_id, [])]
    return [(e["event"], e["group"], e["member"]["name"]) for e in events if e.get("type") == "presence"]


def test_members_hear_who_joins_leaves_drops_and_goes(endpoint: Any, handler: Any, django_user_model: Any) -> None:
    def client(**kwargs: Any) -> WebSocketTestClient:
        ws = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action", **kwargs)
        assert ws.connect().status_code == 200
        return ws

    alice = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    alice.force_login(django_user_model.objects.create_user("alice"))
    alice.connect()
    guest, bob = client(), client()
    guest_name = f"guest-{guest.connection_id[:6]}"

    assert alice.send({"action": "join", "room": "lobby"}).json()["members"] == [
        {"connectionId": alice.connection_id, "userId": str(django_user_model.objects.get().pk), "name": "alice"}]
    joined = guest.send({"action": "join", "room": "lobby"}).json()["members"]
    assert [m["name"] for m in joined] == ["alice", guest_name] and joined[1]["userId"] is None
    guest.send({"action": "join", "room": "lobby"})  # already a member: nobody is told twice
    guest.send({"action": "join", "room": "second"})
    guest.send({"action": "ajoin", "group": "plain"})  # no presence there
    bob.send({"action": "join", "room": "lobby"})
    assert presence(endpoint, alice.connection_id) == [
        ("joined", "room:lobby", "alice"), ("joined", "room:lobby", guest_name),
        ("joined", "room:lobby", f"guest-{bob.connection_id[:6]}")]
    assert presence(endpoint, guest.connection_id)[0] == ("joined", "room:lobby", guest_name)  # the joiner too

    # An async route lists the members as stored at connect (no user lookups).
    listed = alice.send({"action": "members", "room": "lobby"}).json()["members"]
    assert {m["connectionId"] for m in listed} == {alice.connection_id, guest.connection_id, bob.connection_id}

    bob.send({"action": "leave", "room": "lobby"})
    bob.send({"action": "leave", "room": "lobby"})  # not a member any more: no second "left"
    assert presence(endpoint, alice.connection_id)[-1] == ("left", "room:lobby", f"guest-{bob.connection_id[:6]}")

    endpoint.reset()
    guest.disconnect(1006, "")  # a dropped socket: API Gateway's $disconnect is all there is
    assert presence(endpoint, alice.connection_id) == [("left", "room:lobby", guest_name)]
    assert [m["name"] for m in members("room:lobby")] == ["alice"] and members("room:second") == []

    # A post that finds a member gone (410) before its $disconnect arrives (here: the announcement of its own
    # join): the others hear that it left, and it is no member any more.
    endpoint.reset()
    ghost = client(connection_id="gone-ghost1=")
    ghost.send({"action": "join", "room": "lobby"})
    assert presence(endpoint, alice.connection_id) == [("joined", "room:lobby", "guest-gone-g"),
                                                       ("left", "room:lobby", "guest-gone-g")]
    assert "gone-ghost1=" not in {m["connectionId"] for m in members("room:lobby")}
    assert ghost.disconnect(1006).status_code == 200  # the late $disconnect announces nothing again
    assert len(presence(endpoint, alice.connection_id)) == 2

    # A close asked by the server: its $disconnect will find the connection closed, so the close announces.
    carol = client()
    carol.send({"action": "join", "room": "lobby"})
    endpoint.reset()
    assert close_connection(get_store().get(carol.connection_id)) is True  # type: ignore[arg-type]
    assert endpoint.deleted == [carol.connection_id]
    assert presence(endpoint, alice.connection_id) == [("left", "room:lobby", f"guest-{carol.connection_id[:6]}")]
    carol.disconnect(1000)
    assert presence(endpoint, alice.connection_id) == [("left", "room:lobby", f"guest-{carol.connection_id[:6]}")]


def test_without_presence_groups_nothing_is_announced(fault_server: Any, handler: Any) -> None:
    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url}):
        reset_stores()
        ws = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
        ws.connect()
        ws.send({"action": "join", "room": "lobby"})
        ws.disconnect(1006)
    reset_stores()
    assert presence(fault_server, ws.connection_id) == []


@pytest.mark.parametrize("value", ["room:*", [1], [""], None])
def test_presence_groups_setting_is_checked(value: Any) -> None:
    with override_settings(WEBSOCKETS={"PRESENCE_GROUPS": value}):
        ids = [m.id for m in run_checks()]
    assert "django_aws_api_gateway_websockets.E031" in ids


def test_the_broadcast_queue_worker_announces_the_gone_members_it_finds(endpoint: Any, handler: Any) -> None:
    """A big group's broadcast goes through SQS; the worker that posts a chunk and meets a 410 marks the member
    gone, and the room hears that it left (the same path as a direct broadcast)."""
    import base64

    from django_aws_api_gateway_websockets import fanout
    from django_aws_api_gateway_websockets.gateway.sqs_poller import sqs_event

    alice = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    alice.connect()
    alice.send({"action": "join", "room": "big"})
    ghost = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action",
                                connection_id="gone-ghost2=")
    ghost.connect()
    get_store().join(ghost.connection_id, "room:big")  # joined without an announcement (which would find it gone)
    endpoint.reset()
    body = fanout.sign_chunk(json.dumps({"v": 1, "id": "b-1", "payload": base64.b64encode(b'{"type":"note"}').decode(),
                                         "to": {endpoint.url: [ghost.connection_id]}}))
    answer = fanout.handle_sqs_event(sqs_event([{"MessageId": "c-1", "ReceiptHandle": "r", "Body": body}],
                                               "arn:aws:sqs:us-east-1:1:q", "us-east-1"))
    assert answer == {"batchItemFailures": []}
    assert presence(endpoint, alice.connection_id) == [("left", "room:big", "guest-gone-g")]
    assert [m["connectionId"] for m in members("room:big")] == [alice.connection_id]
