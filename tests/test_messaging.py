"""Pushing to connections through real boto3 calls against real local HTTP endpoints."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_aws_api_gateway_websockets import messaging
from django_aws_api_gateway_websockets.messaging import (
    MessagingPermissionError,
    broadcast,
    client_for,
    connection_info,
    encode,
    endpoint_for,
    send_to_group,
    send_to_user,
)
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.store import Connection

pytestmark = pytest.mark.django_db


def at(endpoint: str, **more: Any) -> Any:
    return override_settings(WEBSOCKETS={"ENDPOINT_URL": endpoint, **more})


def make_sessions(*ids: str, **fields: Any) -> list[WebSocketSession]:
    WebSocketSession.objects.bulk_create(
        [WebSocketSession(connection_id=i, domain_name="abc.execute-api.us-east-1.amazonaws.com", stage="prod",
                          **fields) for i in ids]
    )
    return list(WebSocketSession.objects.filter(connection_id__in=ids).order_by("connection_id"))


# Against moto in server mode ---------------------------------------------------------------------------------
def test_send_message_to_one_session_against_moto(moto_server: str) -> None:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    (session,) = make_sessions("moto-one=")
    with at(moto_server):
        result = session.send_message({"hello": "world", "n": 1})
        assert (result.sent, result.gone, result.failed) == (1, 0, 0)
        info = connection_info(session)
    backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
    # moto keys connections by the id as it appears in the URL path (botocore quotes "=" as %3D)
    assert backend.connections[quote("moto-one=", safe="")].data == b'{"hello":"world","n":1}'
    assert info is not None and "ConnectedAt" in info and "ResponseMetadata" not in info


def test_queryset_broadcast_against_moto(moto_server: str) -> None:
    make_sessions("m1=", "m2=", "m3=")
    WebSocketSession.objects.filter(connection_id="m3=").update(connected=False)
    with at(moto_server):
        result = WebSocketSession.objects.all().send_message({"all": True})
    assert (result.sent, result.gone, result.failed) == (2, 0, 0)


def test_close_against_moto(moto_server: str) -> None:
    (session,) = make_sessions("moto-close=")
    with at(moto_server):
        assert session.close() is True
    session.refresh_from_db()
    assert not session.connected and session.disconnect_reason == "closed by server"


# Against the fault server -------------------------------------------------------------------------------------
def test_broadcast_is_loss_free_and_marks_gone_in_one_write(fault_server: Any) -> None:
    live = [f"live-{i:04d}=" for i in range(300)]
    gone = [f"gone-{i:03d}=" for i in range(40)]
    sessions = make_sessions(*live, *gone)
    with at(fault_server.url), CaptureQueriesContext(db_connection) as queries:
        result = broadcast(sessions, {"msg": "hi"})
    assert (result.sent, result.gone, result.failed) == (300, 40, 0)
    assert sorted(result.gone_ids) == gone
    assert {cid: data for cid, data in fault_server.received.items()} == {cid: [b'{"msg":"hi"}'] for cid in live}
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1  # one batched write for all 40 gone connections
    assert WebSocketSession.objects.filter(connected=False).count() == 40


def test_throttled_posts_are_retried_then_counted_failed(fault_server: Any) -> None:
    sessions = make_sessions("throttle2-a=", "throttle9-b=")
    with at(fault_server.url, MAX_RETRIES=3):
        result = broadcast(sessions, {"x": 1})
    assert (result.sent, result.failed) == (1, 1)
    assert result.failed_ids == ["throttle9-b="]
    assert fault_server.attempts["throttle2-a="] == 3 and fault_server.attempts["throttle9-b="] == 4
    assert fault_server.received["throttle2-a="] == [b'{"x":1}']


def test_dropped_connections_are_retried_without_loss(fault_server: Any) -> None:
    with at(fault_server.url, MAX_RETRIES=2):
        result = broadcast(make_sessions("drop1-a=", "drop2-b=", "drop5-c="), {"x": 1})
    assert (result.sent, result.failed, result.failed_ids) == (2, 1, ["drop5-c="])
    assert fault_server.received["drop1-a="] == fault_server.received["drop2-b="] == [b'{"x":1}']


def test_oversized_message_is_refused_before_any_call(fault_server: Any) -> None:
    sessions = make_sessions("ok-big=")
    with at(fault_server.url), pytest.raises(ValueError, match="128 KB"):
        broadcast(sessions, {"pad": "é" * 70_000})  # 140,000 UTF-8 bytes, 70,000 characters
    assert fault_server.attempts == {}
    assert len(encode({"pad": "x" * (128 * 1024 - 10)})) == 128 * 1024  # exactly at the limit is fine


def test_413_from_gateway_counts_as_failed(fault_server: Any) -> None:
    with at(fault_server.url):
        result = broadcast(make_sessions("big-1="), {"x": 1})
    assert (result.sent, result.failed) == (0, 1)


def test_403_names_the_missing_permission(fault_server: Any) -> None:
    with at(fault_server.url), pytest.raises(MessagingPermissionError, match="execute-api:ManageConnections"):
        broadcast(make_sessions("forbidden-1="), {"x": 1})


def test_unreachable_endpoint_counts_failed_without_raising() -> None:
    with at("http://127.0.0.1:9", MAX_RETRIES=1):
        result = broadcast(make_sessions("a=", "b="), {"x": 1})
    assert (result.sent, result.failed) == (0, 2)


def test_stage_path_is_used_for_stored_endpoints(fault_server: Any) -> None:
    host = fault_server.url.removeprefix("http://")
    (session,) = make_sessions("ok-stage=")
    WebSocketSession.objects.filter(pk=session.pk).update(domain_name=host, stage="local")
    session.refresh_from_db()
    with override_settings(WEBSOCKETS={}):
        assert session.send_message("hi").sent == 1
    assert fault_server.paths == ["/local/@connections/ok-stage%3D"]


def test_send_to_user_and_group(fault_server: Any, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("pat")
    c, a, b = make_sessions("ok-u1=", "ok-u2=", "ok-other=")  # sorted: ok-other=, ok-u1=, ok-u2=
    WebSocketSession.objects.filter(pk__in=[a.pk, b.pk]).update(user=user)
    b.join_group("room")
    c.join_group("room")
    with at(fault_server.url):
        assert send_to_user(user, {"to": "user"}).sent == 2
        assert send_to_group("room", {"to": "room"}).sent == 2
        assert send_to_group("empty", {"to": "nobody"}).total == 0
    assert fault_server.received["ok-u2="] == [b'{"to":"user"}', b'{"to":"room"}']


def test_close_of_gone_connection(fault_server: Any) -> None:
    (session,) = make_sessions("gone-close=")
    with at(fault_server.url):
        assert session.close() is False
        assert connection_info(session) is None
    session.refresh_from_db()
    assert not session.connected


def test_logout_closes_sockets_through_the_api(fault_server: Any, client: Any, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("lou")
    make_sessions("ok-lo1=", user=user)
    client.force_login(user)
    with at(fault_server.url):
        client.logout()
    assert fault_server.deleted == ["ok-lo1="]


# Endpoints and clients ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("domain", "stage", "settings", "expected"),
    [
        ("abc.execute-api.eu-west-1.amazonaws.com", "prod", {}, "https://abc.execute-api.eu-west-1.amazonaws.com/prod"),
        ("ws.example.com", "prod", {}, "https://ws.example.com"),
        ("ws.example.com", "prod", {"API_MAPPING_KEY": "/chat/"}, "https://ws.example.com/chat"),
        ("127.0.0.1:8000", "local", {}, "http://127.0.0.1:8000/local"),
        ("localhost:8000", "", {}, "http://localhost:8000"),
        ("abc.execute-api.eu-west-1.amazonaws.com", "prod", {"ENDPOINT_URL": "http://127.0.0.1:4510/"},
         "http://127.0.0.1:4510"),
    ],
)
def test_endpoint_for(domain: str, stage: str, settings: dict[str, str], expected: str) -> None:
    conn = Connection(connection_id="e=", domain_name=domain, stage=stage)
    with override_settings(WEBSOCKETS=settings):
        assert endpoint_for(conn) == expected


def test_clients_are_created_once_per_endpoint_across_threads() -> None:
    seen: list[Any] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(client_for("http://127.0.0.1:59999"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert client_for("http://127.0.0.1:59998") is not seen[0]


def test_encode_uses_django_json_encoder() -> None:
    import datetime
    import decimal

    assert json.loads(encode({"d": decimal.Decimal("1.5"), "t": datetime.date(2026, 11, 24)})) == \
        {"d": "1.5", "t": "2026-11-24"}
    assert messaging.MAX_PAYLOAD_BYTES == 131072


def test_broadcast_signs_exactly_as_boto3(fault_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's Authorization header is byte-for-byte what boto3 sends for the same post."""
    import datetime

    import botocore.auth

    fixed = datetime.datetime(2026, 11, 24, 8, 0, 0, tzinfo=datetime.timezone.utc)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: fixed)
    seen: list[dict[str, str]] = []

    def capture(request: Any, **kwargs: Any) -> None:
        seen.append({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    client = client_for(fault_server.url)
    client.meta.events.register("before-send.apigatewaymanagementapi.PostToConnection", capture)
    try:
        client.post_to_connection(ConnectionId="ok-sig=", Data=b'{"a":1}')
    finally:
        client.meta.events.unregister("before-send.apigatewaymanagementapi.PostToConnection", capture)
    path_boto3 = fault_server.paths[-1]
    with at(fault_server.url):
        assert broadcast(make_sessions("ok-sig="), {"a": 1}).sent == 1
    assert fault_server.paths[-1] == path_boto3 == "/@connections/ok-sig%3D"
    assert fault_server.headers[-1]["Authorization"] == seen[0]["Authorization"]
    assert fault_server.headers[-1]["X-Amz-Security-Token"] == seen[0]["X-Amz-Security-Token"] == "testing"


def test_broadcast_posts_ask_for_no_compressed_answer(fault_server: Any) -> None:
    """The sender never decompresses an answer (an error body goes into the failure's detail as it came), so it
    asks for none compressed, as boto3 does not either: no Accept-Encoding (identity), no Accept, no User-Agent."""
    with at(fault_server.url):
        assert broadcast(make_sessions("ok-plain="), {"a": 1}).sent == 1
    sent = {name.lower() for name in fault_server.headers[-1]}
    assert not sent & {"accept-encoding", "accept", "user-agent"}, sent
    assert {"host", "x-amz-date", "authorization", "content-length"} <= sent
