"""A chat room's broadcasts through SQS on the local gateway: the demo over real sockets, its room posts queued on a
moto server's SQS, polled by the gateway and delivered through @connections, as on AWS."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from websockets.sync.client import connect

from tests.e2e.gateway_process import Gateway, start_gateway, stop_gateway
from tests.e2e.test_gateway import recv_until

pytestmark = pytest.mark.e2e


def test_a_room_broadcast_goes_through_the_queue_and_reaches_every_member(tmp_path: Any, gateway: Gateway,
                                                                         moto_server: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    queue_url = sqs.create_queue(QueueName=f"e2e-broadcasts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    env = {"WEBSOCKETS_BROADCAST_QUEUE_URL": queue_url, "WEBSOCKETS_SQS_ENDPOINT_URL": moto_server,
           "WEBSOCKETS_BROADCAST_QUEUE_THRESHOLD": "3"}
    queued = start_gateway(tmp_path, db_path=gateway.db_path, env=env)
    try:
        with ExitStack() as stack:
            sockets = [stack.enter_context(connect(queued.ws_url)) for _ in range(8)]
            for ws in sockets:
                ws.send(json.dumps({"action": "join", "room": "queued"}))
                recv_until(ws, lambda m: m.get("route") == "join")
            sockets[0].send(json.dumps({"action": "post", "room": "queued", "text": "via SQS"}))
            # The poster's reply and the queued message race (the gateway's poller can deliver the broadcast
            # before the route's reply is back): read the poster's socket until both have come, in either order.
            poster: dict[str, dict[str, Any]] = {}

            def reply_and_message(message: dict[str, Any]) -> bool:
                if message.get("route") == "post":
                    poster["reply"] = message
                elif message.get("type") == "message":
                    poster["message"] = message
                return len(poster) == 2

            recv_until(sockets[0], reply_and_message, timeout=30)
            assert (poster["reply"]["sent"], poster["reply"]["queued"]) == (0, 8)  # the caller only queued it
            assert poster["message"]["text"] == "via SQS"
            for ws in sockets[1:]:  # (a generous wait: SQS is a moto server shared by the whole suite)
                assert recv_until(ws, lambda m: m.get("type") == "message", timeout=30)["text"] == "via SQS"
        log = queued.log_path.read_text()
        assert "Polling " in log and "queued: 8 recipients in 1 chunks" in log and "SQS batch of " in log
    finally:
        stop_gateway(queued)
        sqs.delete_queue(QueueUrl=queue_url)
