"""Origins, integration secrets, rate limits and client addresses."""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.models import WebSocketSession
from django_aws_api_gateway_websockets.ratelimit import Rate, parse_rate
from django_aws_api_gateway_websockets.security import client_ip, origin_allowed
from tests.helpers import TEST_SECRET, GatewayPoster

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


@pytest.fixture
def base(client: Client) -> GatewayPoster:
    return GatewayPoster(client, "/base/")


def ws(**values: object) -> object:
    return override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "SHARED_SECRETS": [TEST_SECRET], **values})


# Origins ------------------------------------------------------------------------------------------------
def test_foreign_origin_is_refused(base: GatewayPoster) -> None:
    response = base.connect(Origin="https://evil.example")
    assert response.status_code == 403
    assert not WebSocketSession.objects.exists()


def test_origin_in_allowed_hosts_is_accepted(base: GatewayPoster) -> None:
    assert base.connect(Origin="https://testserver").status_code == 200


def test_explicit_allowed_origins(base: GatewayPoster) -> None:
    with ws(ALLOWED_ORIGINS=["https://app.example.com"]):
        assert base.connect("one=", Origin="https://app.example.com").status_code == 200
        assert base.connect("two=", Origin="https://app.example.com:443").status_code == 200
        assert base.connect("three=", Origin="http://app.example.com").status_code == 403
        assert base.connect("four=", Origin="https://testserver").status_code == 403


@pytest.mark.parametrize("origin", ["null", "", "file://", "https://", "javascript:alert(1)", "https://x:99999"])
def test_malformed_origins_are_refused(origin: str) -> None:
    assert not origin_allowed(origin)


# Shared secret --------------------------------------------------------------------------------------------
SECRETS = ["first-secret-0123456789", "second-secret-0123456789"]


def test_shared_secret_required_when_configured(base: GatewayPoster) -> None:
    with ws(SHARED_SECRETS=SECRETS):
        assert base.connect().status_code == 403
        assert base.connect(**{"X-Websocket-Secret": "wrong"}).status_code == 403
        assert base.connect(**{"X-Websocket-Secret": SECRETS[1]}).status_code == 200
        assert base.message({"action": "ping"}, **{"X-Websocket-Secret": SECRETS[0]}).status_code == 200
        assert base.message({"action": "ping"}).status_code == 403


# Rate limits ----------------------------------------------------------------------------------------------
def test_connect_rate_limited_per_ip(base: GatewayPoster) -> None:
    with ws(CONNECT_RATE_LIMIT_PER_IP="3/minute"):
        codes = [base.connect(f"c{i}=").status_code for i in range(5)]
        other_ip = base.connect("other=", **{"X-Forwarded-For": "198.51.100.7"}).status_code
    assert codes == [200, 200, 200, 429, 429]
    assert other_ip == 200
    assert WebSocketSession.objects.count() == 4


def test_connect_rate_limited_per_user(base: GatewayPoster, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ada", password="pw-123456789")
    base.client.force_login(user)
    cookie = f"sessionid={base.client.cookies['sessionid'].value}"
    with ws(CONNECT_RATE_LIMIT_PER_USER="2/minute", CONNECT_RATE_LIMIT_PER_IP=None):
        codes = [base.connect(f"u{i}=", Cookie=cookie, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                 for i in range(3)]
    assert codes == [200, 200, 429]
    assert json.loads(base.connect("x=", Cookie=cookie).content)  # still a clear JSON body


def test_rate_limit_disabled_with_none(base: GatewayPoster) -> None:
    with ws(CONNECT_RATE_LIMIT_PER_IP=None):
        assert all(base.connect(f"n{i}=").status_code == 200 for i in range(70))


@pytest.mark.parametrize(
    ("text", "rate"),
    [("60/minute", Rate(60, 60)), ("1/s", Rate(1, 1)), (" 5 / hour ", Rate(5, 3600)), ("2/d", Rate(2, 86400))],
)
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@given(st.one_of(st.text(max_size=30), st.integers(), st.none()))
def test_parse_rate_never_crashes_other_than_value_error(value: object) -> None:
    try:
        rate = parse_rate(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert rate.count >= 1 and rate.seconds in (1, 60, 3600, 86400)


# Client address -------------------------------------------------------------------------------------------
def test_client_ip_takes_the_address_api_gateway_appended() -> None:
    request = RequestFactory().post("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "203.0.113.9"


def test_client_ip_ignores_garbage() -> None:
    request = RequestFactory().post("/", HTTP_X_FORWARDED_FOR="not-an-ip", HTTP_X_REAL_IP="also bad",
                                    REMOTE_ADDR="192.0.2.1")
    assert client_ip(request) == "192.0.2.1"
