"""Queue rows: a 20,000-member ``send_to_group`` through SQS on one machine.

The group lives in the ORM store (SQLite); SQS is moto in server mode on loopback; the worker is the Lambda handler
(``lambda_handler.handler``) invoked by the local gateway's SQS poller the way Lambda's event source mapping invokes
it (batches of 10 chunks, two batches at once); @connections is the benchmark sink in its own process, counting
posts per connection id. Figures: time until ``send_to_group`` returns, time until the sink has seen every member,
lost (members never posted to) and duplicated posts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _ids_seen(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_ids") as response:  # noqa: S310 - local benchmark sink
        return dict(json.load(response))


def run(members: int = 20_000, delay_ms: float = 10.0, timeout: float = 600.0) -> dict[str, float]:
    import boto3
    from django.conf import settings
    from django.test import override_settings
    from moto.server import ThreadedMotoServer

    import lambda_handler
    from benchmarks.messaging_bench import sink
    from django_aws_api_gateway_websockets.gateway.sqs_poller import SqsPoller, SqsPollerConfig
    from django_aws_api_gateway_websockets.messaging import send_to_group
    from django_aws_api_gateway_websockets.models import WebSocketGroupMembership, WebSocketSession
    from django_aws_api_gateway_websockets.store import reset_stores

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    group, prefix = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{i:06d}=" for i in range(members)]
    WebSocketSession.objects.bulk_create(
        [WebSocketSession(connection_id=cid, domain_name="127.0.0.1", stage="") for cid in ids], batch_size=2000)
    sessions = WebSocketSession.objects.filter(connection_id__startswith=prefix)
    WebSocketGroupMembership.objects.bulk_create(
        [WebSocketGroupMembership(session=s, group=group) for s in sessions], batch_size=2000)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=f"bench-broadcasts-{prefix}", Attributes={"VisibilityTimeout": "174"})[
            "QueueUrl"]
        with sink(delay_ms) as url, override_settings(WEBSOCKETS={
                **settings.WEBSOCKETS, "ENDPOINT_URL": url, "BROADCAST_QUEUE_URL": queue_url,
                "SQS_ENDPOINT_URL": endpoint}):
            reset_stores()
            executor = ThreadPoolExecutor(2, thread_name_prefix="lambda")

            async def broadcast_and_drain() -> dict[str, float]:
                poller = SqsPoller(SqsPollerConfig(queue_url=queue_url, endpoint_url=endpoint, concurrency=2),
                                   lambda_handler.handler, executor)
                await poller.start()
                try:
                    loop = asyncio.get_running_loop()
                    start = time.perf_counter()
                    result = await loop.run_in_executor(None, lambda: send_to_group(group, {
                        "type": "message", "room": "lobby", "text": "x" * 200}, message_id=True))
                    returned = time.perf_counter() - start
                    deadline = start + timeout
                    seen: dict[str, int] = {}
                    while time.perf_counter() < deadline:
                        seen = await loop.run_in_executor(None, _ids_seen, url)
                        if len(seen) >= members:
                            break
                        await asyncio.sleep(0.05)
                    delivered = time.perf_counter() - start
                    await asyncio.sleep(0.5)  # late duplicates, if any
                    seen = await loop.run_in_executor(None, _ids_seen, url)
                finally:
                    await poller.stop()
                assert result.enqueued is not None
                wanted = set(ids)
                return {"returned": returned, "delivered": delivered, "chunks": result.enqueued.chunks,
                        "lost": len(wanted - set(seen)), "duplicated": sum(n - 1 for cid, n in seen.items() if n > 1),
                        "batches": poller.batches}

            figures = asyncio.run(broadcast_and_drain())
            executor.shutdown()
        sqs.delete_queue(QueueUrl=queue_url)
    finally:
        server.stop()
        reset_stores()
        WebSocketSession.objects.filter(connection_id__startswith=prefix).delete()
    return figures


def describe(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in figures.items())
