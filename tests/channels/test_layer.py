"""The channel layer on its own: names, validation, what cannot work between events, and a fan-out to 1,000."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from django_aws_api_gateway_websockets.channels_compat import ChannelLayer, channel_name_for, connection_id_of

pytestmark = pytest.mark.django_db


def essentials(path: str) -> dict[str, Any]:
    """What the bridge keeps at connect (see scope.connect_essentials), for members made in bulk."""
    return {"path": path, "query": "", "headers": [["origin", "https://chat.example.com"]], "subprotocols": [],
            "session_key": None, "client": "203.0.113.10", "scheme": "wss",
            "server": ["abcdef1234.execute-api.us-east-1.amazonaws.com", 443]}


def make_members(count: int, path: str, group: str) -> list[str]:
    """``count`` open connections of the bridge in ``group``, written in bulk (connecting each through the
    handler would cost the suite seconds and prove nothing more)."""
    from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession

    sessions = WebSocketSession.objects.bulk_create(
        WebSocketSession(connection_id=f"m{i:04d}=", api_id="abcdef1234", stage="prod",
                         domain_name="abcdef1234.execute-api.us-east-1.amazonaws.com",
                         data={"channels_scope": essentials(path), "channels_state": {}, "channels_open": 1})
        for i in range(count))
    WebSocketGroupMembership.objects.bulk_create(WebSocketGroupMembership(session=s, group=group) for s in sessions)
    return [s.connection_id for s in sessions]


def test_channel_names_round_trip_and_follow_channels_rules() -> None:
    layer = ChannelLayer()
    for connection_id in ("L0SM9cOFvHcCIhw=", "a+b/c_d=", "é-1"):
        name = channel_name_for(connection_id)
        assert layer.require_valid_channel_name(name) and connection_id_of(name) == connection_id
    assert connection_id_of("specific.abc!def") is None


def test_what_a_layer_cannot_do_between_events_fails_clearly(bridge: Any) -> None:
    layer = ChannelLayer()
    name = async_to_sync(layer.new_channel)()
    assert layer.require_valid_channel_name(name) and name != async_to_sync(layer.new_channel)()
    with pytest.raises(NotImplementedError, match="no process waits"):
        async_to_sync(layer.receive)(name)
    with pytest.raises(NotImplementedError):
        async_to_sync(layer.flush)()
    with pytest.raises(TypeError):
        async_to_sync(layer.group_add)("bad group name!", channel_name_for("abc="))
    with pytest.raises(TypeError, match="not a channel of this layer"):
        async_to_sync(layer.group_add)("room", "specific.abc!def")
    with pytest.raises(ValueError, match="type"):
        async_to_sync(layer.group_send)("room", {"text": "no type"})
    with pytest.raises(TypeError):
        async_to_sync(layer.send)(channel_name_for("abc="), ["not", "a", "dict"])
    async_to_sync(layer.send)(channel_name_for("unknown="), {"type": "room.message", "text": "x"})  # gone: dropped


def test_group_send_fan_out_to_1000_members_runs_each_members_handler(bridge: Any, fault_server: Any) -> None:
    from channels.layers import get_channel_layer

    ids = make_members(1000, "/ws/room/big/", "room.big")
    started = time.perf_counter()
    async_to_sync(get_channel_layer().group_send)("room.big", {"type": "room.message", "text": "to all"})
    elapsed = time.perf_counter() - started
    assert sorted(fault_server.received) == ids
    assert all(frames == [b"to all"] for frames in fault_server.received.values())
    print(f"fan-out to 1,000 members: {elapsed:.2f} s (timed in benchmarks: python -m benchmarks.run)")


def test_a_member_whose_handler_raises_does_not_stop_the_others(bridge: Any, fault_server: Any, caplog: Any) -> None:
    from channels.layers import get_channel_layer

    ids = make_members(3, "/ws/echo/", "everyone")
    async_to_sync(get_channel_layer().group_send)("everyone", {"type": "no.such.handler"})
    assert fault_server.received == {} and "No handler for message type no.such.handler" in caplog.text
    async_to_sync(get_channel_layer().group_send)("everyone", {"type": "shout", "text": "ok"})
    assert sorted(fault_server.received) == ids
