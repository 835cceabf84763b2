"""Delivery semantics: at-least-once, a post known to be delivered is never retried, and an optional
per-message id lets clients drop the duplicates an ambiguous failure can cause."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets.messaging import broadcast, send_to_connection, send_to_group
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.store import get_store

pytestmark = pytest.mark.django_db


def sessions(*ids: str) -> list[WebSocketSession]:
    WebSocketSession.objects.bulk_create([WebSocketSession(connection_id=i, domain_name="x.example", stage="s")
                                          for i in ids])
    return list(WebSocketSession.objects.filter(connection_id__in=ids).order_by("connection_id"))


def test_a_post_known_delivered_is_never_retried(fault_server: Any) -> None:
    """The answer's status says 200, then the connection dies mid-body: delivered, not to be sent again."""
    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url, "MAX_RETRIES": 3}):
        result = broadcast(sessions("cut-a="), {"n": 1})
    assert (result.sent, result.failed) == (1, 0)
    assert fault_server.attempts["cut-a="] == 1
    assert fault_server.received["cut-a="] == [b'{"n":1}']


def test_message_ids_for_client_side_deduplication(fault_server: Any) -> None:
    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url}):
        targets = sessions("a=", "b=")
        result = broadcast(targets, {"text": "hi"}, message_id=True)
        assert result.message_id and len(result.message_id) == 32
        fixed = broadcast(targets[:1], {"text": "again"}, message_id="order-42")
        plain = broadcast(targets[:1], {"text": "plain"})
    first = [json.loads(p) for p in fault_server.received["a="]]
    assert first[0] == {"text": "hi", "messageId": result.message_id}
    assert json.loads(fault_server.received["b="][0])["messageId"] == result.message_id  # one id per message
    assert first[1] == {"text": "again", "messageId": "order-42"} and fixed.message_id == "order-42"
    assert first[2] == {"text": "plain"} and plain.message_id is None


def test_message_ids_need_an_object_payload(fault_server: Any) -> None:
    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url}), pytest.raises(TypeError):
        broadcast(sessions("a="), ["not", "an", "object"], message_id=True)


def test_the_send_helpers_take_a_message_id(fault_server: Any) -> None:
    with override_settings(WEBSOCKETS={"ENDPOINT_URL": fault_server.url}):
        (session,) = sessions("a=")
        get_store().join("a=", "room")
        send_to_group("room", {"x": 1}, message_id="g1")
        send_to_connection("a=", {"x": 2}, message_id="c1")
        session.send_message({"x": 3}, message_id="s1")
    ids = [json.loads(p)["messageId"] for p in fault_server.received["a="]]
    assert ids == ["g1", "c1", "s1"]
