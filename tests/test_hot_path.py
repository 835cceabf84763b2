"""The message hot path: connections and users cached per process, counts written once per interval, and what
must stay exact (a connection closed here, or unknown to the store, is refused). Events go through the Lambda
adapter, as on AWS; store calls are counted with Django's query log and botocore's event hooks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_aws_api_gateway_websockets import connection_cache
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.store import get_store, reset_stores
from django_aws_api_gateway_websockets.testing import WebSocketTestClient

pytestmark = pytest.mark.django_db

WHOAMI = {"action": "whoami"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(connection_cache.get_cache(), "clock", fake)
    return fake


def settings_with(**values: Any) -> Any:
    from django.conf import settings

    return override_settings(WEBSOCKETS={**settings.WEBSOCKETS, **values})


def open_socket(user: Any = None) -> WebSocketTestClient:
    ws = WebSocketTestClient()
    if user is not None:
        ws.force_login(user)
    assert ws.connect().status_code == 200
    return ws


def stored(connection_id: str) -> WebSocketSession:
    return WebSocketSession.objects.get(connection_id=connection_id)


class BotocoreCalls:
    """Counts the DynamoDB API calls a boto3 client makes (botocore's before-call event)."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        self.client = client
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.names.append(model.name)

    def close(self) -> None:
        self.client.meta.events.unregister("before-call.dynamodb", self._count)


# ORM store -----------------------------------------------------------------------------------------------------
def test_fifty_messages_cost_one_store_write_and_one_user_query(clock: FakeClock) -> None:
    user = get_user_model().objects.create_user("ada")
    ws = open_socket(user)
    with CaptureQueriesContext(db_connection) as queries:
        for _ in range(50):
            assert ws.send(WHOAMI).json()["name"] == "ada"
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 2, sql  # the first message: UPDATE ... RETURNING (counted) and the user's SELECT
    assert sql[0].startswith("UPDATE") and "RETURNING" in sql[0]
    # Counts are exact once written: on $disconnect the 49 counted in memory go first.
    assert stored(ws.connection_id).message_count == 1
    assert ws.disconnect().status_code == 200
    assert stored(ws.connection_id).message_count == 50


def test_counts_are_written_once_per_ttl_and_a_close_elsewhere_is_noticed(clock: FakeClock) -> None:
    ws = open_socket()
    for _ in range(10):
        assert ws.send(WHOAMI).status_code == 200
    clock.now += 59
    with CaptureQueriesContext(db_connection) as queries:
        assert ws.send(WHOAMI).status_code == 200
    assert queries.captured_queries == []  # still fresh: no store call
    clock.now += 2
    with CaptureQueriesContext(db_connection) as queries:
        assert ws.send(WHOAMI).status_code == 200  # stale: one write of the 10 counted meanwhile, one re-read
    assert len(queries.captured_queries) == 1
    session = stored(ws.connection_id)
    assert session.message_count == 11 and session.connected
    # Another process handles the $disconnect (here: the store directly, behind this process's back).
    get_store().disconnect(ws.connection_id, 1001, "Going away")
    assert ws.send(WHOAMI).status_code == 200  # within the TTL this process does not know yet
    clock.now += 61
    assert ws.send(WHOAMI).status_code == 403  # the next round trip says closed: refused, and from now on here
    assert stored(ws.connection_id).message_count == 13  # both accepted messages counted, the refused one not
    with CaptureQueriesContext(db_connection) as queries:
        assert ws.send(WHOAMI).status_code == 403
    assert queries.captured_queries == []


def test_a_connection_this_process_saw_disconnect_is_refused_without_a_store_call(clock: FakeClock) -> None:
    ws = open_socket()
    assert ws.send(WHOAMI).status_code == 200
    assert ws.disconnect().status_code == 200
    with CaptureQueriesContext(db_connection) as queries:
        response = ws.send(WHOAMI)
    assert response.status_code == 403 and response.json() == {"error": "Unknown or disconnected connection."}
    assert queries.captured_queries == []
    assert ws.connection_id not in connection_cache.get_cache()


def test_a_connect_for_an_id_this_process_saw_close_asks_the_store_again(clock: FakeClock) -> None:
    """API Gateway never reuses a connection id, but tests and replays do: a new $connect for it starts afresh."""
    ws = open_socket()
    assert ws.disconnect().status_code == 200
    WebSocketSession.objects.all().delete()  # what a test's rollback does
    again = WebSocketTestClient(connection_id=ws.connection_id)
    assert again.connect().status_code == 200
    assert again.send(WHOAMI).status_code == 200
    # A late $connect after its own $disconnect: the store keeps it closed, so it is still refused.
    assert again.disconnect().status_code == 200
    assert again.connect().status_code == 200
    assert again.send(WHOAMI).status_code == 403


def test_a_connection_unknown_to_the_store_is_refused(clock: FakeClock) -> None:
    ws = WebSocketTestClient()  # never connected (API Gateway sends no message before its $connect succeeded)
    for expected_queries in (1, 0):  # asked once, then remembered as closed
        with CaptureQueriesContext(db_connection) as queries:
            assert ws.send(WHOAMI).status_code == 403
        assert len(queries.captured_queries) == expected_queries
    assert not WebSocketSession.objects.exists()


def test_deactivation_elsewhere_stops_messages_within_the_revalidation_interval(clock: FakeClock) -> None:
    user = get_user_model().objects.create_user("grace")
    ws = open_socket(user)
    assert ws.send(WHOAMI).json()["authenticated"] is True
    # Deactivated by another process (an UPDATE: no signal reaches this one).
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    clock.now += 59
    assert ws.send(WHOAMI).status_code == 200  # the documented window: up to USER_REVALIDATE_INTERVAL
    clock.now += 2
    response = ws.send(WHOAMI)
    assert response.status_code == 401
    assert not stored(ws.connection_id).connected
    assert ws.send(WHOAMI).status_code == 403


def test_a_password_change_in_this_process_is_checked_at_the_next_message(clock: FakeClock) -> None:
    user = get_user_model().objects.create_user("hopper", password="first-password-1")
    ws = open_socket(user)
    assert ws.send(WHOAMI).status_code == 200
    user.set_password("second-password-2")
    user.save()  # post_save: this process validates the user again at the next message
    assert ws.send(WHOAMI).status_code == 401


def test_a_user_deleted_in_this_process_is_refused_at_the_next_message(clock: FakeClock) -> None:
    user = get_user_model().objects.create_user("lovelace", password="first-password-1")
    ws = open_socket(user)
    assert ws.send(WHOAMI).status_code == 200
    user.delete()  # post_delete: like a save, this process validates the user again at the next message
    assert ws.send(WHOAMI).status_code == 401
    assert ws.send(WHOAMI).status_code == 403  # and the connection was closed


def test_request_user_is_a_copy_per_message(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.websocket_views import ChatView

    user = get_user_model().objects.create_user("lovelace")
    ws = open_socket(user)
    seen: list[Any] = []
    original = ChatView.whoami

    def whoami(self: ChatView, request: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((request.user, request.user.first_name))
        request.user.first_name = "changed by a handler"
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(ChatView, "whoami", whoami)
    ws.send(WHOAMI)
    ws.send(WHOAMI)
    assert seen[0][0] is not seen[1][0] and seen[1][1] == ""


def test_gone_and_closed_results_evict(clock: FakeClock, fault_server: Any) -> None:
    from django_aws_api_gateway_websockets.messaging import close_connection, send_to_connection

    gone, closed = WebSocketTestClient(connection_id="gone-1AAAAAA="), WebSocketTestClient(connection_id="ok-1AAAAAAA=")
    with settings_with(ENDPOINT_URL=fault_server.url):
        for ws in (gone, closed):
            assert ws.connect().status_code == 200
            assert ws.send(WHOAMI).status_code == 200
        assert send_to_connection(gone.connection_id, {"hello": 1}).gone == 1  # 410: marked gone, evicted
        assert close_connection(get_store().get(closed.connection_id)) is True  # closed by the server
        for ws in (gone, closed):
            with CaptureQueriesContext(db_connection) as queries:
                assert ws.send(WHOAMI).status_code == 403
            assert queries.captured_queries == []


def test_the_lru_is_bounded_and_writes_what_an_evicted_entry_counted(clock: FakeClock) -> None:
    with settings_with(CONNECTION_CACHE_SIZE=2):
        sockets = [open_socket() for _ in range(3)]
        for ws in sockets:
            for _ in range(4):
                assert ws.send(WHOAMI).status_code == 200
        assert len(connection_cache.get_cache()) == 2
        assert sockets[0].connection_id not in connection_cache.get_cache()
        assert stored(sockets[0].connection_id).message_count == 4  # written when pushed out
        for ws in sockets:
            ws.disconnect()
        assert [stored(ws.connection_id).message_count for ws in sockets] == [4, 4, 4]


def test_cache_off_is_a_store_round_trip_and_a_user_query_per_message(clock: FakeClock) -> None:
    user = get_user_model().objects.create_user("knuth")
    with settings_with(CONNECTION_CACHE_SIZE=0):
        ws = open_socket(user)
        with CaptureQueriesContext(db_connection) as queries:
            for _ in range(5):
                assert ws.send(WHOAMI).status_code == 200
        assert len(queries.captured_queries) == 10
        assert stored(ws.connection_id).message_count == 5


# DynamoDB store (moto server) and real threads ----------------------------------------------------------------
def test_dynamodb_one_call_per_connection_and_exact_counts_under_threads(dynamodb_settings: dict[str, Any]) -> None:
    with settings_with(**dynamodb_settings, TOKEN_USERS="claims"):
        reset_stores()
        calls = BotocoreCalls(get_store()._client)  # type: ignore[attr-defined]
        sockets = [open_socket() for _ in range(4)]
        calls.names.clear()
        barrier = threading.Barrier(8)

        def send_many(ws: WebSocketTestClient) -> list[int]:
            barrier.wait()
            return [ws.send(WHOAMI).status_code for _ in range(25)]

        with ThreadPoolExecutor(8) as pool:  # two threads per socket, all at once
            statuses = [s for result in pool.map(send_many, sockets * 2) for s in result]
        assert statuses == [200] * 200
        # Each socket's first message: one UpdateItem (touched), whichever thread got there first; a racing
        # second thread may touch too, never more.
        assert calls.names.count("UpdateItem") <= 8 and set(calls.names) == {"UpdateItem"}, calls.names
        for ws in sockets:
            ws.disconnect()
        table = get_store()._client  # type: ignore[attr-defined]
        for ws in sockets:
            item = table.get_item(TableName=dynamodb_settings["DYNAMODB_TABLE"],
                                  Key={"PK": {"S": "CONN#" + ws.connection_id}, "SK": {"S": "META"}})["Item"]
            assert int(item["message_count"]["N"]) == 50
        calls.close()
