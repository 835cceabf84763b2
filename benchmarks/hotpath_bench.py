"""Hot path rows: store calls per message over 1,000 messages from 20 connections, through ``lambda_handler``.

ORM store: every SQL statement Django runs while the messages are handled (counted by an execute wrapper, the
hook under Django's query log), with 20 users logged in by session cookie (database users: the user is looked up and
revalidated). DynamoDB store (moto server on loopback): every DynamoDB API call the store's boto3 client makes
(botocore's ``before-call`` event), with anonymous connections (the CDK stack's "claims" mode needs no user
table). Each beside the same run with the connection cache off (``CONNECTION_CACHE_SIZE = 0``: the old path).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any


def _sockets(count: int, users: bool) -> list[Any]:
    from django.contrib.auth import get_user_model

    from django_aws_api_gateway_websockets.testing import WebSocketTestClient

    import lambda_handler

    sockets = []
    for i in range(count):
        ws = WebSocketTestClient(lambda_handler.handler, api_id="bench00003")
        if users:
            ws.force_login(get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:8]}-{i}"))
        assert ws.connect().status_code == 200
        sockets.append(ws)
    return sockets


def _send_all(sockets: list[Any], messages: int) -> None:
    body = json.dumps({"action": "whoami"})
    for i in range(messages):
        response = sockets[i % len(sockets)].send(body, route_key="whoami")
        assert response.status_code == 200, response.body


def orm_calls(messages: int, connections: int, cache_size: int) -> int:
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from django_aws_api_gateway_websockets.store import reset_stores

    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "CONNECTION_CACHE_SIZE": cache_size}):
        reset_stores()
        sockets = _sockets(connections, users=True)
        # Django's own hook on every statement it executes (its query log is reset at each request's start).
        with connection.execute_wrapper(count):
            _send_all(sockets, messages)
        for ws in sockets:
            ws.disconnect()
    return len(statements)


def dynamodb_calls(endpoint: str, table: str, messages: int, connections: int, cache_size: int) -> int:
    from django.conf import settings
    from django.test import override_settings

    from django_aws_api_gateway_websockets.store import get_store, reset_stores

    names: list[str] = []

    def count(model: Any, **kwargs: Any) -> None:
        names.append(model.name)

    values = {**settings.WEBSOCKETS, "STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
              "DYNAMODB_TABLE": table, "DYNAMODB_ENDPOINT_URL": endpoint, "TOKEN_USERS": "claims",
              "CONNECTION_CACHE_SIZE": cache_size}
    with override_settings(WEBSOCKETS=values):
        reset_stores()
        events = get_store()._client.meta.events  # type: ignore[attr-defined]
        sockets = _sockets(connections, users=False)
        events.register("before-call.dynamodb", count)
        try:
            _send_all(sockets, messages)
        finally:
            events.unregister("before-call.dynamodb", count)
        for ws in sockets:
            ws.disconnect()
    reset_stores()
    return len(names)


def run(messages: int = 1000, connections: int = 20) -> dict[str, dict[str, float]]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from django_aws_api_gateway_websockets.store.dynamodb_schema import create_table_arguments

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "benchmark")
    result = {"orm": {"cached": orm_calls(messages, connections, 10_000) / messages,
                      "uncached": orm_calls(messages, connections, 0) / messages}}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        table = f"bench-hot-{uuid.uuid4().hex[:6]}"
        boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").create_table(
            **create_table_arguments(table))
        result["dynamodb"] = {
            "cached": dynamodb_calls(endpoint, table, messages, connections, 10_000) / messages,
            "uncached": dynamodb_calls(endpoint, table, messages, connections, 0) / messages,
        }
    finally:
        server.stop()
    return result
