"""One contract, two backends: the Django ORM store and the DynamoDB store (on a real moto server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_aws_api_gateway_websockets.store import Connection, ConnectionStore
from django_aws_api_gateway_websockets.store.dynamodb import DynamoDBStore
from django_aws_api_gateway_websockets.store.orm import OrmStore

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["orm", "dynamodb"])
def store(request: pytest.FixtureRequest) -> ConnectionStore:
    if request.param == "orm":
        return OrmStore()
    moto_server = request.getfixturevalue("moto_server")
    table = request.getfixturevalue("dynamodb_table")
    dynamo = DynamoDBStore(table_name=table, endpoint_url=moto_server)
    dynamo.page_size = 2  # force pagination on every query
    return dynamo


def conn(cid: str, user: str | None = None, **extra: Any) -> Connection:
    return Connection(connection_id=cid, api_id="api1", stage="prod", domain_name="api1.execute-api.us-east-1.amazonaws.com",
                      user_id=user, user_name=f"name-{user}" if user else "", auth_hash="h" if user else "",
                      client_ip="203.0.113.5", user_agent="ua", **extra)


def test_connect_then_get_round_trips_every_field(store: ConnectionStore, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("u1")
    original = conn("c1=", str(user.pk))
    store.connect(original)
    got = store.get("c1=")
    assert got is not None
    for field in ("connection_id", "api_id", "stage", "domain_name", "user_id", "user_name", "auth_hash",
                  "client_ip", "user_agent", "connected"):
        assert getattr(got, field) == getattr(original, field), field
    assert abs((got.connected_at - original.connected_at).total_seconds()) < 1
    assert store.get("unknown=") is None


def test_connect_is_idempotent(store: ConnectionStore) -> None:
    store.connect(conn("c1="))
    store.connect(Connection(connection_id="c1=", api_id="other"))
    assert store.get("c1=").api_id == "api1"  # type: ignore[union-attr]


def test_disconnect_is_idempotent_and_tolerates_unknown_ids(store: ConnectionStore) -> None:
    store.connect(conn("c1="))
    assert store.disconnect("c1=", 1001, "Going away") is True
    assert store.disconnect("c1=", 1001, "Going away") is False
    assert store.disconnect("never=") is False
    closed = store.get("c1=")
    assert closed is not None and closed.connected is False


def test_disconnect_before_connect_loses_nothing_and_leaves_nothing_open(store: ConnectionStore) -> None:
    store.disconnect("early=", 1006, "")
    store.connect(conn("early="))
    store.join("early=", "g")
    record = store.get("early=")
    assert record is None or record.connected is False
    assert store.touch("early=") is None
    assert store.group_connections("g") == []


def test_touch_counts_and_returns_open_connections_only(store: ConnectionStore) -> None:
    store.connect(conn("c1="))
    touched = store.touch("c1=")
    assert touched is not None and touched.connection_id == "c1="
    assert store.touch("unknown=") is None
    store.disconnect("c1=")
    assert store.touch("c1=") is None


def _count_and_seen(store: ConnectionStore, cid: str) -> tuple[int, str]:
    """The stored message count and last-seen (as ISO text), read past the store interface."""
    if isinstance(store, OrmStore):
        from django_aws_api_gateway_websockets.models import WebSocketSession

        session = WebSocketSession.objects.get(connection_id=cid)
        return session.message_count, session.last_seen.isoformat()
    item = store._client.get_item(TableName=store.table_name, Key=store._key("CONN#" + cid, "META"))["Item"]  # type: ignore[attr-defined]
    return int(item["message_count"]["N"]), item["last_seen"]["S"]


def test_record_activity_adds_counts_moves_last_seen_forward_and_says_whether_open(store: ConnectionStore) -> None:
    store.connect(conn("a1="))
    store.touch("a1=")
    later = timezone.now() + timedelta(seconds=30)
    opened = store.record_activity("a1=", 41, later)
    assert opened is not None and opened.connection_id == "a1=" and opened.connected
    assert _count_and_seen(store, "a1=") == (42, later.isoformat())
    assert store.record_activity("a1=", 3, later - timedelta(seconds=20)) is not None  # older: last-seen stays
    assert _count_and_seen(store, "a1=") == (45, later.isoformat())
    store.disconnect("a1=")
    # Messages accepted before the close still count; the answer says the connection is closed.
    assert store.record_activity("a1=", 5, timezone.now()) is None
    assert _count_and_seen(store, "a1=")[0] == 50
    assert store.record_activity("unknown=", 1, timezone.now()) is None
    assert store.get("unknown=") is None


def test_groups(store: ConnectionStore) -> None:
    for i in range(7):
        store.connect(conn(f"m{i}="))
        store.join(f"m{i}=", "room")
    store.join("m0=", "other")
    store.join("m0=", "other")
    assert store.groups_of("m0=") == ["other", "room"]
    assert sorted(c.connection_id for c in store.group_connections("room")) == [f"m{i}=" for i in range(7)]
    store.leave("m0=", "room")
    store.disconnect("m1=")
    members = store.group_connections("room")
    assert sorted(c.connection_id for c in members) == [f"m{i}=" for i in range(2, 7)]
    assert all(c.domain_name.endswith("amazonaws.com") and c.stage == "prod" for c in members)
    store.join("unknown=", "room")
    store.join("m1=", "room")  # disconnected: ignored
    assert len(store.group_connections("room")) == 5


def test_group_members_page_reads_one_bounded_page_in_connection_id_order(store: ConnectionStore,
                                                                         django_user_model: Any) -> None:
    user = str(django_user_model.objects.create_user("paged").pk)
    ids = [f"p{i:02d}=" for i in range(12)]
    for cid in reversed(ids):  # joined in the opposite order: the page order is the connection ids'
        store.connect(conn(cid, user if cid == "p03=" else None))
        store.join(cid, "room")
    store.connect(conn("other="))
    store.join("other=", "elsewhere")
    store.leave("p05=", "room")
    store.disconnect("p06=")
    expected = [cid for cid in ids if cid not in ("p05=", "p06=")]
    seen, after = [], None
    while True:
        page, more = store.group_members_page("room", 3, after)
        assert len(page) <= 3 and more == (len(seen) + len(page) < len(expected))
        seen += page
        if not more:
            break
        after = page[-1].connection_id
    assert [c.connection_id for c in seen] == expected
    assert {c.connection_id: (c.user_id, c.user_name) for c in seen}["p03="] == (user, "name-" + user)
    for limit in (10, 100):  # exactly full, and more room than members: nothing follows
        page, more = store.group_members_page("room", limit, None)
        assert [c.connection_id for c in page] == expected and more is False
    assert store.group_members_page("room", 2, "p05=")[0][0].connection_id == "p07="  # after a member who left
    assert store.group_members_page("room", 5, "p99=") == ([], False)
    assert store.group_members_page("nobody", 5, None) == ([], False)


def test_a_member_page_reads_no_more_than_the_page(store: ConnectionStore, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        store.connect(conn(f"b{i:02d}="))
        store.join(f"b{i:02d}=", "big")
    if isinstance(store, DynamoDBStore):
        store.page_size = None
        scanned: list[int] = []
        query = store._client.query

        def counted(**arguments: Any) -> Any:
            answer = query(**arguments)
            scanned.append(answer["ScannedCount"])
            return answer

        store._client.query = counted  # type: ignore[method-assign]
        page, more = store.group_members_page("big", 4, "b10=")
        assert scanned == [5]  # the page and the one item that says more follow
    else:
        with django_assert_max_num_queries(1) as queries:
            page, more = store.group_members_page("big", 4, "b10=")
        assert "LIMIT 5" in queries.captured_queries[0]["sql"]
    assert [c.connection_id for c in page] == ["b11=", "b12=", "b13=", "b14="] and more


def test_group_recipients_have_what_a_send_needs(store: ConnectionStore) -> None:
    for i in range(5):
        store.connect(conn(f"r{i}="))
        store.join(f"r{i}=", "room")
    store.disconnect("r4=")
    recipients = store.group_recipients("room")
    assert sorted(c.connection_id for c in recipients) == ["r0=", "r1=", "r2=", "r3="]
    assert {(c.api_id, c.stage, c.domain_name) for c in recipients} == {
        ("api1", "prod", "api1.execute-api.us-east-1.amazonaws.com")}


def test_user_connections(store: ConnectionStore, django_user_model: Any) -> None:
    first, second = (str(django_user_model.objects.create_user(name).pk) for name in ("first", "second"))
    for i in range(5):
        store.connect(conn(f"u{i}=", user=first))
    store.connect(conn("other=", user=second))
    store.connect(conn("anon="))
    store.disconnect("u0=")
    assert sorted(c.connection_id for c in store.user_connections(first)) == ["u1=", "u2=", "u3=", "u4="]
    assert [c.user_name for c in store.user_connections(second)] == [f"name-{second}"]


def test_mark_gone_in_one_call(store: ConnectionStore) -> None:
    for i in range(5):
        store.connect(conn(f"g{i}="))
        store.join(f"g{i}=", "room")
    assert store.mark_gone(["g0=", "g1=", "g1=", "unknown="]) == 2
    assert store.mark_gone([]) == 0
    assert sorted(c.connection_id for c in store.group_connections("room")) == ["g2=", "g3=", "g4="]
    assert store.get("g0=").connected is False  # type: ignore[union-attr]


def test_connect_tokens_are_single_use(store: ConnectionStore) -> None:
    expires = timezone.now() + timedelta(minutes=1)
    assert store.use_token("jti-1", expires) is True
    assert store.use_token("jti-1", expires) is False
    assert store.use_token("jti-2", expires) is True


def test_dynamodb_items_carry_a_ttl(moto_server: str, dynamodb_table: str) -> None:
    import time

    import boto3

    store = DynamoDBStore(table_name=dynamodb_table, endpoint_url=moto_server)
    store.connect(conn("ttl="))
    store.join("ttl=", "room")
    items = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1").scan(
        TableName=dynamodb_table)["Items"]
    assert len(items) == 3  # META, the membership and its reverse item
    for item in items:
        assert 2 * 3600 < int(item["ttl"]["N"]) - time.time() < 3 * 3600


def test_orm_purge_drops_old_closed_sessions_and_used_tokens() -> None:
    from django_aws_api_gateway_websockets.models import ConnectTokenUse

    store = OrmStore()
    store.connect(conn("old="))
    store.disconnect("old=")
    store.use_token("stale", timezone.now() - timedelta(minutes=1))
    assert store.purge(timezone.now() + timedelta(seconds=1)) == 1
    assert not ConnectTokenUse.objects.exists()


def test_connection_data_round_trips_and_changes_key_by_key(store: ConnectionStore) -> None:
    data = {"scope": {"path": "/ws/chat/lobby/", "headers": [["origin", "https://x.test"]]}, "ratio": 0.5, "n": [1, "ü"]}
    store.connect(conn("d1=", data=data))
    assert store.get("d1=").data == data  # type: ignore[union-attr]
    assert store.touch("d1=").data == data  # type: ignore[union-attr]
    assert store.update_data("d1=", {"state": {"room": "lobby"}, "ratio": None}) is True
    expected = {"scope": data["scope"], "n": [1, "ü"], "state": {"room": "lobby"}}
    assert store.get("d1=").data == expected  # type: ignore[union-attr]
    assert store.update_data("unknown=", {"state": {}}) is False
    store.connect(conn("d2="))
    assert store.get("d2=").data == {}  # type: ignore[union-attr]
    store.join("d1=", "room")
    store.join("d2=", "room")
    many = {c.connection_id: c.data for c in store.get_many(["d1=", "d2=", "unknown=", "d1="])}
    assert many == {"d1=": expected, "d2=": {}}


def test_pop_data_hands_a_value_to_one_caller_only(store: ConnectionStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store.connect(conn("p1=", data={"pending": [{"text": "hi"}], "keep": 1}))
    if isinstance(store, OrmStore):  # in-memory SQLite: one connection, so one thread; DynamoDB races for real
        results = [store.pop_data("p1=", "pending") for _ in range(4)]
    else:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: store.pop_data("p1=", "pending"), range(4)))
    assert sorted(results, key=lambda r: r is None) == [[{"text": "hi"}], None, None, None]
    assert store.get("p1=").data == {"keep": 1}  # type: ignore[union-attr]
    assert store.pop_data("unknown=", "pending") is None


def test_many_connections_in_batches(store: ConnectionStore) -> None:
    ids = [f"b{i}=" for i in range(130)]  # over DynamoDB's 100 keys per BatchGetItem
    for cid in ids:
        store.connect(conn(cid, data={"i": cid}))
    got = store.get_many(ids)
    assert sorted(c.connection_id for c in got) == sorted(ids) and all(c.data == {"i": c.connection_id} for c in got)


def _leftover_membership(store: ConnectionStore, cid: str, group: str) -> None:
    """A membership of an already-closed connection, as the old join/disconnect race left them behind."""
    if isinstance(store, OrmStore):
        from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession

        WebSocketGroupMembership.objects.create(session=WebSocketSession.objects.get(connection_id=cid), group=group)
        return
    from django_aws_api_gateway_websockets.store import dynamodb_schema as schema

    for pk, sk in ((schema.GROUP_PREFIX + group, schema.CONNECTION_PREFIX + cid),
                   (schema.CONNECTION_PREFIX + cid, schema.GROUP_PREFIX + group)):
        store._client.put_item(TableName=store.table_name, Item={  # type: ignore[attr-defined]
            "PK": {"S": pk}, "SK": {"S": sk}, "connection_id": {"S": cid}, "group": {"S": group},
            "ttl": {"N": str(int(timezone.now().timestamp()) + 3600)}})


@pytest.mark.parametrize("cleanup", ["mark_gone", "disconnect"])
def test_cleanup_removes_memberships_of_connections_already_closed(store: ConnectionStore, cleanup: str) -> None:
    store.connect(conn("c1="))
    store.disconnect("c1=")
    _leftover_membership(store, "c1=", "room")
    if cleanup == "mark_gone":
        assert store.mark_gone(["c1="]) == 0
    else:
        assert store.disconnect("c1=") is False
    assert store.groups_of("c1=") == []
    assert [c.connection_id for c in store.group_connections("room")] == []


def test_a_closed_connection_joins_nothing(store: ConnectionStore) -> None:
    store.connect(conn("c1="))
    store.disconnect("c1=")
    store.join("c1=", "room")
    store.join("never=", "room")
    assert store.groups_of("c1=") == [] and store.group_connections("room") == []


def test_disconnect_removes_memberships(store: ConnectionStore) -> None:
    store.connect(conn("c1="))
    store.join("c1=", "a")
    store.join("c1=", "b")
    assert store.groups_of("c1=") == ["a", "b"]
    store.disconnect("c1=")
    assert store.groups_of("c1=") == [] and store.group_connections("a") == []


@pytest.mark.parametrize("group", ["nul\u0000", "\ud800", "", "x" * 151])
def test_stores_refuse_unusable_group_names(store: ConnectionStore, group: str) -> None:
    store.connect(conn("c1="))
    with pytest.raises(ValueError):
        store.join("c1=", group)


def test_hostile_free_text_is_stored_without_controls(store: ConnectionStore) -> None:
    store.connect(Connection(connection_id="c1=", api_id="a", stage="s", domain_name="d.example",
                             user_agent="ua\u0000\ud800x" * 200))
    got = store.get("c1=")
    assert got is not None and "\u0000" not in got.user_agent and len(got.user_agent) <= 512
    store.disconnect("c1=", 4000, "r\u0000\ud800" * 300)
