"""Presence on both stores (SQLite and DynamoDB on moto server), pushed through a real @connections endpoint:
joined and left events for joins, leaves, dropped sockets ($disconnect 1006), server-side closes and posts that
find a connection gone; member lists as stored at connect."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_aws_api_gateway_websockets import presence as presence_module

from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler
from django_aws_api_gateway_websockets.messaging import close_connection
from django_aws_api_gateway_websockets.presence import members
from django_aws_api_gateway_websockets.store import Connection, get_store, reset_stores
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.feature_views import FeatureView
from tests.sqs import drain, queue_settings

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
    joined = guest.send({"action": "join", "room": "lobby"}).json()["members"]  # ordered by connection id
    assert joined == sorted(joined, key=lambda m: m["connectionId"])
    assert {m["name"]: m["userId"] for m in joined} == {"alice": str(django_user_model.objects.get().pk),
                                                         guest_name: None}
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
    assert [m["name"] for m in members("room:lobby").members] == ["alice"] and members("room:second").members == []

    # A post that finds a member gone (410) before its $disconnect arrives (here: the announcement of its own
    # join): the others hear that it left, and it is no member any more.
    endpoint.reset()
    ghost = client(connection_id="gone-ghost1=")
    ghost.send({"action": "join", "room": "lobby"})
    assert presence(endpoint, alice.connection_id) == [("joined", "room:lobby", "guest-gone-g"),
                                                       ("left", "room:lobby", "guest-gone-g")]
    assert "gone-ghost1=" not in {m["connectionId"] for m in members("room:lobby").members}
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


def test_members_hear_that_a_user_logged_out_and_that_a_closed_socket_was_gone(
        endpoint: Any, handler: Any, django_user_model: Any, client: Any) -> None:
    """Logout closes the user's sockets (CLOSE_ON_LOGOUT): the room hears "left" once, not again at their
    $disconnect. A close that API Gateway answers 410 (gone before its $disconnect came): the room hears "left"."""
    user = django_user_model.objects.create_user("dora")
    dora = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    dora.force_login(user)
    guest = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    for ws in (dora, guest):
        assert ws.connect().status_code == 200
        ws.send({"action": "join", "room": "lobby"})
    endpoint.reset()
    client.force_login(user)
    client.logout()
    assert endpoint.deleted == [dora.connection_id]
    assert presence(endpoint, guest.connection_id) == [("left", "room:lobby", "dora")]
    assert dora.disconnect(1000).status_code == 200
    assert presence(endpoint, guest.connection_id) == [("left", "room:lobby", "dora")]

    store = get_store()
    store.connect(Connection(connection_id="gone-ghost3=", domain_name="127.0.0.1", stage="", user_name="ghost"))
    store.join("gone-ghost3=", "room:lobby")  # a member the room was never told about (no announcement)
    endpoint.reset()
    assert close_connection(store.get("gone-ghost3=")) is False  # type: ignore[arg-type]
    assert presence(endpoint, guest.connection_id) == [("left", "room:lobby", "ghost")]
    assert "gone-ghost3=" not in {m["connectionId"] for m in members("room:lobby").members}


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
    assert [m["connectionId"] for m in members("room:big").members] == [alice.connection_id]


# Big groups ---------------------------------------------------------------------------------------------------------
LONG_NAME = "\u0436" * 150  # a 150-character Cyrillic name: 900 bytes of JSON as Django writes it (\u0436 escapes)


def crowd(group: str, count: int) -> list[str]:
    """``count`` open members of ``group`` with the longest names the store keeps, written straight to the store."""
    store = get_store()
    ids = [f"crowd{i:04d}-{'x' * 20}=" for i in range(count)]
    for cid in ids:
        store.connect(Connection(connection_id=cid, domain_name="127.0.0.1", user_name=LONG_NAME))
        store.join(cid, group)
    return ids


def test_a_big_rooms_member_list_comes_in_pages_each_under_api_gateways_limit(endpoint: Any, handler: Any) -> None:
    """180 members whose names are 150 non-ASCII characters: their whole list is about 170 KB of JSON, over the
    128 KB API Gateway accepts for a message. The join reply and each "members" reply hold one page under the limit,
    and following "next" lists every member exactly once, in connection id order."""
    ids = crowd("room:huge", 180)
    ws = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    ws.connect()
    reply = ws.send({"action": "join", "room": "huge"})
    assert reply.status_code == 200
    pages = [reply]
    while pages[-1].json()["next"] is not None:
        pages.append(ws.send({"action": "members", "room": "huge", "after": pages[-1].json()["next"]}))
        assert pages[-1].status_code == 200 and len(pages) < 20
    assert all(len(page.body.encode()) < 128 * 1024 for page in pages)
    listed = [m["connectionId"] for page in pages for m in page.json()["members"]]
    assert listed == sorted([*ids, ws.connection_id])
    assert len(pages) >= 3  # about 70 such members fit in a page's 64 KB
    assert all(len(page.json()["members"]) <= presence_module.DEFAULT_PAGE_SIZE for page in pages)


@pytest.mark.parametrize("body", [{"after": 7}, {"after": "not a cursor!"}, {"after": ["x"]}, {"after": "x" * 200},
                                  {"after": "abc=\n"}])
def test_a_bad_cursor_is_a_400_json_error(endpoint: Any, handler: Any, body: dict[str, Any]) -> None:
    ws = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
    ws.connect()
    reply = ws.send({"action": "members", "room": "lobby", **body})
    assert reply.status_code == 400 and reply.json()["error"] == "'after' must be the 'next' cursor of a member page."


@pytest.mark.parametrize("limit", [0, -1, True, 1001, "5", 2.0])
def test_a_bad_limit_is_refused(endpoint: Any, limit: Any) -> None:
    with pytest.raises(ValueError, match="'limit' must be an integer from 1 to 1000"):
        members("room:lobby", limit=limit)


def test_pages_by_limit_and_after(endpoint: Any) -> None:
    ids = crowd("room:paged", 7)
    first = members("room:paged", limit=3)
    assert [m["connectionId"] for m in first.members] == ids[:3] and first.next == ids[2] and first.truncated
    assert [m["name"] for m in first.members] == [LONG_NAME] * 3 and first.members[0]["userId"] is None
    second = members("room:paged", limit=3, after=first.next)
    last = members("room:paged", limit=3, after=second.next)
    assert [m["connectionId"] for m in second.members + last.members] == ids[3:]
    assert last.next is None and not last.truncated and last.as_dict() == {"members": last.members, "next": None}
    assert members("room:paged", limit=7).next is None  # exactly full: nothing follows
    # A cursor whose member has left since still works: the page starts after where it was.
    get_store().leave(ids[2], "room:paged")
    assert [m["connectionId"] for m in members("room:paged", limit=2, after=ids[2]).members] == ids[3:5]


def test_a_join_announcement_to_a_big_presence_group_goes_through_the_broadcast_queue(
        endpoint: Any, handler: Any, queues: Any, moto_server: str) -> None:
    """A presence group over BROADCAST_QUEUE_THRESHOLD is announced to as send_to_group sends: the joiner's request
    only queues the announcement, and the queue's worker delivers it to every member once."""
    ids = crowd("room:stadium", 6)
    with queue_settings(queues, moto_server, endpoint.url):
        ws = WebSocketTestClient(handler, routes=list(FeatureView.routes), route_selection_key="action")
        ws.connect()
        endpoint.reset()
        assert ws.send({"action": "join", "room": "stadium"}).status_code == 200
        assert endpoint.received == {}  # nothing posted by the joiner's request
        assert queues.depth(queues.url) == 2  # 7 recipients in chunks of 4
        answers = drain(queues)
        assert answers and all(answer == {"batchItemFailures": []} for answer in answers)
    joiner = f"guest-{ws.connection_id[:6]}"
    for cid in [*ids, ws.connection_id]:
        assert presence(endpoint, cid) == [("joined", "room:stadium", joiner)], cid


def test_a_batch_of_gone_members_reads_each_group_once(endpoint: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five members of a room found gone in one broadcast: the room hears five "left" events, and the room's
    recipients are read once for the batch (not once per gone member)."""
    from django_aws_api_gateway_websockets.messaging import mark_gone_and_announce

    ids = crowd("room:batch", 10)
    store = get_store()
    reads: list[str] = []
    recipients = store.group_recipients

    def counted(group: str) -> list[Connection]:
        reads.append(group)
        return recipients(group)

    monkeypatch.setattr(store, "group_recipients", counted)
    endpoint.reset()
    mark_gone_and_announce(store, ids[:5])
    assert reads == ["room:batch"]
    monkeypatch.undo()
    for cid in ids[5:]:
        assert [e for e, _, _ in presence(endpoint, cid)] == ["left"] * 5
    assert not any(endpoint.received.get(cid) for cid in ids[:5])
