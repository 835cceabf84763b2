"""Channels' own test story for the tutorial's consumers, as Channels documents it (WebsocketCommunicator and
the InMemoryChannelLayer, in-process): the consumers the bridge runs are exactly these, unmodified."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "channels_tutorial"))

from chat import routing, sync_routing  # noqa: E402


@pytest.mark.asyncio
@pytest.mark.parametrize("patterns", [routing.websocket_urlpatterns, sync_routing.websocket_urlpatterns],
                         ids=["async", "sync"])
@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}})
async def test_chat_consumer_with_websocket_communicator(patterns: list) -> None:
    application = URLRouter(patterns)
    alice = WebsocketCommunicator(application, "/ws/chat/lobby/")
    bob = WebsocketCommunicator(application, "/ws/chat/lobby/")
    connected, _ = await alice.connect()
    assert connected
    connected, _ = await bob.connect()
    assert connected
    await alice.send_json_to({"message": "hello"})
    assert await alice.receive_json_from() == {"message": "hello"}
    assert await bob.receive_json_from() == {"message": "hello"}
    await alice.disconnect()
    await bob.disconnect()
