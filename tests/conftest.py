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
    """moto in server mode on 127.0.0.1 and a free port: a real HTTP endpoint for boto3."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


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
