"""Store rows: per-message store cost (connection -> user lookup, the `touch` every message does) and a group
fan-out lookup of 2,000 members, on the ORM store (SQLite) and the DynamoDB store (moto server on loopback)."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any


def _median_seconds(action: Callable[[], Any], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _seed_joins_in_batches(store: Any) -> Callable[[], None]:
    """Seeding shim for the DynamoDB store on moto: moto copies the whole table for every TransactWriteItems
    (to roll back) and keeps every item object it ever made, so 2,000 joins through the store's transaction
    take O(n^2) memory (over 20 GB). While seeding, the transaction's Put items (the very items `join` builds)
    go in by BatchWriteItem instead; the condition check is moot here, every seeded connection is open.
    Returns the function that removes the shim. Only the setup uses it: nothing measured runs through it."""
    client = store._client

    def transact_write_items(*, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        puts = [{"PutRequest": {"Item": item["Put"]["Item"]}} for item in TransactItems if "Put" in item]
        client.batch_write_item(RequestItems={store.table_name: puts})
        return {}

    client.transact_write_items = transact_write_items
    return lambda: delattr(client, "transact_write_items")


def _exercise(store: Any, members: int, repeat: int) -> dict[str, float]:
    from django_aws_api_gateway_websockets.store import Connection

    prefix = uuid.uuid4().hex[:6]
    unshim = _seed_joins_in_batches(store) if hasattr(store, "table_name") else (lambda: None)
    try:
        for i in range(members):
            store.connect(Connection(connection_id=f"{prefix}-{i}=", domain_name="127.0.0.1", user_id=None))
            store.join(f"{prefix}-{i}=", f"room-{prefix}")
    finally:
        unshim()
    first = f"{prefix}-0="
    per_message = _median_seconds(lambda: store.touch(first), repeat)
    fan_out = _median_seconds(lambda: store.group_connections(f"room-{prefix}"), 5)
    assert len(store.group_connections(f"room-{prefix}")) == members
    return {"touch": per_message, "fan_out": fan_out}


def run(members: int = 2000, repeat: int = 300) -> dict[str, dict[str, float]]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from django_aws_api_gateway_websockets.store.dynamodb import DynamoDBStore
    from django_aws_api_gateway_websockets.store.dynamodb_schema import create_table_arguments
    from django_aws_api_gateway_websockets.store.orm import OrmStore

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").create_table(
            **create_table_arguments("bench-connections"))
        return {
            "orm": _exercise(OrmStore(), members, repeat),
            "dynamodb": _exercise(DynamoDBStore("bench-connections", endpoint), members, repeat),
        }
    finally:
        server.stop()
