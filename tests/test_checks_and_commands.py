"""System checks for bad settings, the purge command and the store's idempotence."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from django_aws_api_gateway_websockets.checks import check_origin_default, check_redirects, check_settings
from django_aws_api_gateway_websockets.conf import DEFAULTS
from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.store import Connection, get_store


def ids_for(websockets: object) -> list[str]:
    with override_settings(WEBSOCKETS=websockets):
        return [message.id for message in check_settings()]


def test_default_settings_pass() -> None:
    assert ids_for({}) == []


@pytest.mark.parametrize(
    ("websockets", "expected"),
    [
        ([], "E001"),
        ({"ALLOWED_ORIGIN": ["https://x.example"]}, "E002"),
        ({"STORE": "no.such.Store"}, "E003"),
        ({"VIEW": "no.such.View"}, "E003"),
        ({"ALLOWED_ORIGINS": "https://x.example"}, "E004"),
        ({"ALLOWED_ORIGINS": ["*"]}, "E005"),
        ({"ALLOWED_ORIGINS": ["x.example"]}, "E005"),
        ({"SHARED_SECRETS": "secret"}, "E006"),
        ({"SHARED_SECRETS": ["short"]}, "E007"),
        ({"CONNECT_RATE_LIMIT_PER_IP": "lots"}, "E008"),
        ({"CONNECT_RATE_LIMIT_PER_USER": "0/minute"}, "E008"),
        ({"RATE_LIMIT_CACHE": "missing"}, "E009"),
        ({"MAX_MESSAGE_BYTES": 10**9}, "E010"),
        ({"MAX_WORKERS": 0}, "E010"),
        ({"MAX_RETRIES": True}, "E010"),
        ({"GROUP_JOIN_PERMISSION": "nodot"}, "E011"),
        ({"ENDPOINT_URL": "ftp://x"}, "E012"),
        ({"TOKEN_USERS": "magic"}, "E013"),
        ({"CONNECT_TOKEN_MAX_AGE": 0}, "E014"),
        ({"STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore"}, "E015"),
        ({"RATE_LIMIT_CACHE": ["default"]}, "E009"),  # unhashable: reported, not a TypeError
        ({"DYNAMODB_ENDPOINT_URL": "localhost:4566"}, "E012"),
        ({"SHARED_SECRET_HEADER": None}, "E019"),
        ({"SHARED_SECRET_HEADER": "X Websocket Secret"}, "E019"),
        ({"CLOSE_ON_LOGOUT": "no"}, "E020"),
        ({"TRUST_EXECUTE_API_HOST": "false"}, "E020"),
        ({"API_MAPPING_KEY": 5}, "E021"),
        ({"API_MAPPING_KEY": "chat room"}, "E021"),
        ({"REGION": 5}, "E022"),
        ({"REGION": "Frankfurt"}, "E022"),
        ({"DYNAMODB_TABLE": ["t"]}, "E023"),
        ({"CONNECT_TOKEN_PARAM": None}, "E024"),
        ({"CONNECT_TOKEN_PARAM": "a token"}, "E024"),
        ({"CHANNELS_PATH_PARAM": None}, "E024"),
        ({"CHANNELS_PATH_PARAM": "token"}, "E025"),
        ({"CHANNELS_APPLICATION": 5}, "E026"),
        ({"CHANNELS_URLCONF": "my site.urls"}, "E026"),
        ({"CHANNELS_STATE_MAX_BYTES": "16k"}, "E027"),
        ({"CHANNELS_STATE_MAX_BYTES": 10**9}, "E027"),
        ({"CHANNELS_CONNECT_FLUSH_TIMEOUT": "10s"}, "E028"),
        ({"CHANNELS_CONNECT_FLUSH_TIMEOUT": -1}, "E028"),
        ({"CONNECTION_CACHE_SIZE": -1}, "E010"),
        ({"BROADCAST_CHUNK_SIZE": 0}, "E010"),
        ({"BROADCAST_MAX_ATTEMPTS": 0}, "E010"),
        ({"BROADCAST_RETRY_DELAY": 901}, "E010"),
        ({"BROADCAST_QUEUE_THRESHOLD": "1000"}, "E010"),
        ({"CONNECTION_CACHE_TTL": 7200}, "E029"),
        ({"USER_REVALIDATE_INTERVAL": "60"}, "E029"),
        ({"BROADCAST_QUEUE_URL": "broadcasts"}, "E030"),
        ({"SQS_ENDPOINT_URL": 5000}, "E030"),
        ({"BROADCAST_DEAD_LETTER_QUEUE_URL": "dead-letters"}, "E030"),
        ({"BROADCAST_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/b",
          "BROADCAST_DEAD_LETTER_QUEUE_URL": "https://eu-west-1.queue.amazonaws.com/123456789012/b/"}, "E032"),
    ],
)
def test_bad_settings_are_reported(websockets: object, expected: str) -> None:
    assert f"django_aws_api_gateway_websockets.{expected}" in ids_for(websockets)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_key_is_checked(key: str) -> None:
    """README: every key is checked by manage.py check. A value no key accepts is reported under its name."""
    with override_settings(WEBSOCKETS={key: object()}):
        messages = check_settings()
    assert any(f"[{key!r}]" in message.msg for message in messages), [m.msg for m in messages]


@pytest.mark.parametrize("values", [
    {"SHARED_SECRET_HEADER": "X-Api-Secret", "CLOSE_ON_LOGOUT": False, "TRUST_EXECUTE_API_HOST": False,
     "API_MAPPING_KEY": "v1/chat", "REGION": "eu-central-1", "DYNAMODB_TABLE": "my-app.connections",
     "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:4566", "CONNECT_TOKEN_PARAM": "t", "CHANNELS_PATH_PARAM": "route",
     "CHANNELS_APPLICATION": "mysite.asgi.application", "CHANNELS_URLCONF": "mysite.urls",
     "CHANNELS_STATE_MAX_BYTES": 0, "CHANNELS_CONNECT_FLUSH_TIMEOUT": 2.5},
    {"REGION": "us-gov-west-1", "CHANNELS_CONNECT_FLUSH_TIMEOUT": 0},
])
def test_good_values_pass(values: dict[str, object]) -> None:
    assert ids_for(values) == []


def test_redirecting_settings_warn() -> None:
    middleware = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]
    with override_settings(PREPEND_WWW=True, MIDDLEWARE=middleware, WEBSOCKETS={}):
        assert [m.id for m in check_redirects()] == ["django_aws_api_gateway_websockets.W004"]
    with override_settings(SECURE_SSL_REDIRECT=True, MIDDLEWARE=middleware, WEBSOCKETS={"HTTP_INTEGRATION": True}):
        assert [m.id for m in check_redirects()] == ["django_aws_api_gateway_websockets.W005"]
    with override_settings(SECURE_SSL_REDIRECT=True, MIDDLEWARE=middleware, WEBSOCKETS={"HTTP_INTEGRATION": True},
                           SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        assert check_redirects() == []
    with override_settings(SECURE_SSL_REDIRECT=True, MIDDLEWARE=middleware, WEBSOCKETS={}):
        assert check_redirects() == []  # the Lambda adapter's events are https: no redirect (test_middleware.py)


def test_wildcard_hosts_without_origins_warns() -> None:
    with override_settings(ALLOWED_HOSTS=["*"], WEBSOCKETS={}):
        assert [m.id for m in check_origin_default()] == ["django_aws_api_gateway_websockets.W001"]
    with override_settings(ALLOWED_HOSTS=["*"], WEBSOCKETS={"ALLOWED_ORIGINS": ["https://a.example"]}):
        assert check_origin_default() == []


@pytest.mark.django_db
def test_purge_removes_only_old_disconnected_sessions() -> None:
    now = timezone.now()
    WebSocketSession.objects.create(connection_id="old=", connected=False, disconnected_at=now - timedelta(days=9))
    WebSocketSession.objects.create(connection_id="recent=", connected=False, disconnected_at=now - timedelta(days=1))
    WebSocketSession.objects.create(connection_id="open=", connected=True)
    WebSocketSession.objects.get(connection_id="old=").join_group("g")
    out = StringIO()
    call_command("purge_websocket_sessions", stdout=out)
    assert "Removed 1 " in out.getvalue()
    assert sorted(WebSocketSession.objects.values_list("connection_id", flat=True)) == ["open=", "recent="]
    call_command("purge_websocket_sessions", "--days", "0", stdout=out)
    assert list(WebSocketSession.objects.values_list("connection_id", flat=True)) == ["open="]
    with pytest.raises(CommandError):
        call_command("purge_websocket_sessions", "--days", "-1")


@pytest.mark.django_db
def test_store_connect_and_disconnect_are_idempotent() -> None:
    store = get_store()
    connection = Connection(connection_id="idem=", api_id="a", stage="s", domain_name="d")
    store.connect(connection)
    store.connect(connection)
    assert store.get("idem=") is not None
    assert store.disconnect("idem=", 1001, "going away") is True
    assert store.disconnect("idem=") is False
    assert store.disconnect("never=") is False
    session = WebSocketSession.objects.get(connection_id="idem=")
    assert (session.disconnect_status_code, session.disconnect_reason) == (1001, "going away")
    assert WebSocketSession.objects.get(connection_id="never=").connected is False  # a closed placeholder
    assert store.mark_gone([]) == 0
