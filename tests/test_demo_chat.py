"""The demo chat's routes, end to end through lambda_handler, fanning out over the @connections API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_aws_api_gateway_websockets.testing import WebSocketTestClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(chat_endpoint: Any) -> Any:
    return chat_endpoint  # the chat on each store, pushing to the fault server (tests/conftest.py)


def pushed(server: Any, connection_id: str) -> list[dict[str, Any]]:
    return [json.loads(data) for data in server.received.get(connection_id, [])]


def names(reply: Any) -> list[str]:
    """The member names of a join or members reply, sorted (a page is ordered by connection id)."""
    return sorted(member["name"] for member in reply.json()["members"])


def test_two_members_of_a_room_exchange_a_message(endpoint: Any, django_user_model: Any) -> None:
    alice, guest = WebSocketTestClient(), WebSocketTestClient()
    alice.force_login(django_user_model.objects.create_user("alice"))
    assert alice.connect().status_code == 200 and guest.connect().status_code == 200

    assert names(alice.send({"action": "join", "room": "lobby"})) == ["alice"]
    joined = guest.send({"action": "join", "room": "lobby"})
    assert names(joined) == sorted(["alice", f"guest-{guest.connection_id[:6]}"])

    result = alice.send({"action": "post", "room": "lobby", "text": "hello room"}).json()
    assert (result["sent"], result["gone"], result["failed"]) == (2, 0, 0)
    message = {"type": "message", "room": "lobby", "name": "alice", "text": "hello room"}
    assert pushed(endpoint, guest.connection_id)[-1] == message
    assert pushed(endpoint, alice.connection_id)[-1] == message
    assert pushed(endpoint, alice.connection_id)[1] == {
        "type": "presence", "event": "joined", "group": "room:lobby",
        "member": {"connectionId": guest.connection_id, "userId": None, "name": f"guest-{guest.connection_id[:6]}"}}


def test_posting_requires_membership_and_valid_input(endpoint: Any) -> None:
    ws = WebSocketTestClient()
    ws.connect()
    assert ws.send({"action": "post", "room": "lobby", "text": "hi"}).status_code == 403
    ws.send({"action": "join", "room": "lobby"})
    assert ws.send({"action": "post", "room": "lobby", "text": ""}).status_code == 400
    assert ws.send({"action": "post", "room": "lobby", "text": "x" * 2001}).status_code == 400
    assert ws.send({"action": "join", "room": "../etc"}).status_code == 400
    assert names(ws.send({"action": "members", "room": "lobby"})) == [f"guest-{ws.connection_id[:6]}"]
    assert ws.send({"action": "leave", "room": "lobby"}).status_code == 200
    assert names(ws.send({"action": "members", "room": "lobby"})) == []


def test_gone_members_are_dropped_from_the_room(endpoint: Any) -> None:
    ws = WebSocketTestClient()
    ghost = WebSocketTestClient(connection_id="gone-ghost0=")
    for client in (ws, ghost):
        client.connect()
        client.send({"action": "join", "room": "r"})
    # The ghost's own "joined" announcement already met its 410 and marked it disconnected.
    from django_aws_api_gateway_websockets.store import get_store

    assert get_store().get("gone-ghost0=").connected is False  # type: ignore[union-attr]
    result = ws.send({"action": "post", "room": "r", "text": "anyone?"}).json()
    assert (result["sent"], result["gone"]) == (1, 0)
    assert names(ws.send({"action": "members", "room": "r"})) == [f"guest-{ws.connection_id[:6]}"]
