from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from django_aws_api_gateway_websockets.store import reset_stores


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """Each test starts with empty caches (rate limits) and freshly built stores."""
    for cache in caches.all():
        cache.clear()
    reset_stores()
    yield
    reset_stores()


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region: boto3 talks only to local endpoints in this suite."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 and a free port: a real HTTP endpoint for boto3 (DynamoDB requests
    applied one at a time, as DynamoDB applies each item write atomically: see tests/moto_server.py)."""
    from tests.moto_server import MotoServer

    server = MotoServer("127.0.0.1").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL server: the machine's, or a private one started once for the session (tests/services.py)."""
    from tests.services import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def queues(moto_server: str) -> Iterator[Any]:
    """A fresh broadcast queue and its dead-letter queue on the moto server (tests/sqs.py)."""
    from tests.sqs import make_queues

    yield from make_queues(moto_server)


@pytest.fixture(scope="session")
def _fault_server_process() -> Iterator[Any]:
    from tests.fault_server import FaultServer

    server = FaultServer().start()
    yield server
    server.stop()


@pytest.fixture
def fault_server(_fault_server_process: Any) -> Any:
    """One fault server for the session (pooled keep-alive connections stay valid), records reset per test."""
    _fault_server_process.reset()
    return _fault_server_process


@pytest.fixture
def dynamodb_table(moto_server: str) -> Iterator[str]:
    """A fresh connection table on the moto server, created from the shared key schema."""
    import uuid

    import boto3

    from django_aws_api_gateway_websockets.store.dynamodb_schema import TTL_ATTRIBUTE, create_table_arguments

    client = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1")
    name = f"connections-{uuid.uuid4().hex[:8]}"
    client.create_table(**create_table_arguments(name))
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def dynamodb_settings(moto_server: str, dynamodb_table: str) -> Iterator[dict[str, Any]]:
    """Settings that switch the app to the DynamoDB store on the moto server."""
    from django.test import override_settings

    values = {"VIEW": "app.websocket_views.ChatView",
              "STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
              "DYNAMODB_TABLE": dynamodb_table, "DYNAMODB_ENDPOINT_URL": moto_server}
    with override_settings(WEBSOCKETS=values):
        reset_stores()
        yield values
    reset_stores()


@pytest.fixture(params=["orm", "dynamodb"])
def chat_endpoint(request: pytest.FixtureRequest, fault_server: Any) -> Iterator[Any]:
    """The demo chat's settings (its rooms are presence groups) on each connection store, pushing to the fault
    server's @connections endpoint; yields the fault server."""
    from django.test import override_settings

    settings: dict[str, Any] = {"VIEW": "app.websocket_views.ChatView"}
    if request.param == "dynamodb":
        settings = dict(request.getfixturevalue("dynamodb_settings"))
    with override_settings(WEBSOCKETS={**settings, "ENDPOINT_URL": fault_server.url, "PRESENCE_GROUPS": ["room:*"]}):
        reset_stores()
        yield fault_server
    reset_stores()
