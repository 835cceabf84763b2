"""Channels rows: ``group_send`` to 1,000 members of a room with the tutorial's ChatConsumer (each member's
``chat_message`` handler runs on a fresh consumer with its scope rebuilt from the store, then posts), against
a plain ``send_to_group`` of the same frame to the same connections (no handlers) in the same run."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "examples" / "channels_tutorial"
GROUP = "chat_bench"


def _members(count: int) -> None:
    from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession

    WebSocketSession.objects.filter(connection_id__startswith="chan-").delete()
    essentials = {"path": "/ws/chat/bench/", "query": "", "headers": [["origin", "http://127.0.0.1"]],
                  "subprotocols": [], "session_key": None, "client": "127.0.0.1", "scheme": "ws",
                  "server": ["127.0.0.1", 80]}
    sessions = WebSocketSession.objects.bulk_create(
        WebSocketSession(connection_id=f"chan-{i:05d}=", domain_name="127.0.0.1", stage="",
                         data={"channels_scope": essentials, "channels_state": {}, "channels_open": 1,
                               "channels_attributes": {"room_name": "bench", "room_group_name": GROUP}})
        for i in range(count))
    WebSocketGroupMembership.objects.bulk_create(WebSocketGroupMembership(session=s, group=GROUP) for s in sessions)


def run(count: int, repeat: int) -> dict[str, Any]:
    import os

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    sys.path.insert(0, str(TUTORIAL))
    from channels.layers import get_channel_layer
    from django.test import override_settings

    from benchmarks.messaging_bench import posts_seen, sink
    from django_aws_api_gateway_websockets.aio import run_async
    from django_aws_api_gateway_websockets.channels_compat.routing import reset_routing
    from django_aws_api_gateway_websockets.messaging import send_to_group
    from django_aws_api_gateway_websockets.models import WebSocketSession

    _members(count)
    message = {"message": "x" * 200}
    results: dict[str, Any] = {}
    with sink(0.0) as url:
        for form in ("async", "sync"):
            settings = {"VIEW": "django_aws_api_gateway_websockets.channels_compat.ChannelsWebSocketView",
                        "ENDPOINT_URL": url, "CHANNELS_APPLICATION": f"chat.{'' if form == 'async' else 'sync_'}"
                                                                        "routing.websocket_urlpatterns"}
            layers = {"default": {"BACKEND": "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"}}
            with override_settings(WEBSOCKETS=settings, CHANNEL_LAYERS=layers):
                reset_routing()
                layer = get_channel_layer()
                fan_out, plain = [], []
                before = posts_seen(url)
                for _ in range(repeat):
                    start = time.perf_counter()
                    run_async(layer.group_send, GROUP, {"type": "chat.message", **message})
                    fan_out.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    send_to_group(GROUP, message)
                    plain.append(time.perf_counter() - start)
                results[form] = {"fan_out": statistics.median(fan_out), "plain": statistics.median(plain),
                                 "lost": 2 * repeat * count - (posts_seen(url) - before)}
    reset_routing()
    WebSocketSession.objects.filter(connection_id__startswith="chan-").delete()
    return results
