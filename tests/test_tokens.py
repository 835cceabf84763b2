"""Connect tokens: issued by the main site, checked at $connect; expired, tampered, wrong salt, replayed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import signing
from django.test import Client, override_settings

from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from django_aws_api_gateway_websockets.tokens import (
    SALT,
    InvalidConnectToken,
    consume_connect_token,
    make_connect_token,
    read_connect_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("tok", password="pw-0123456789")


def connect_with(token: str) -> tuple[WebSocketTestClient, int]:
    ws = WebSocketTestClient()
    return ws, ws.connect(query={"token": token}).status_code


def test_valid_token_logs_the_socket_in(user: Any) -> None:
    ws, status = connect_with(make_connect_token(user))
    assert status == 200
    assert ws.send({"action": "whoami"}).json()["name"] == "tok"


def test_replayed_token_is_refused(user: Any) -> None:
    token = make_connect_token(user)
    assert connect_with(token)[1] == 200
    ws, status = connect_with(token)
    assert status == 401
    assert ws.responses[-1].json()["error"] == "Invalid connect token: connect token already used."


def test_expired_token(user: Any) -> None:
    with pytest.raises(InvalidConnectToken, match="expired"):
        read_connect_token(make_connect_token(user, max_age=-1))
    assert connect_with(make_connect_token(user, max_age=-1))[1] == 401


def test_tampered_token(user: Any) -> None:
    token = make_connect_token(user)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    with pytest.raises(InvalidConnectToken, match="signature"):
        read_connect_token(tampered)
    assert connect_with(tampered)[1] == 401


def test_token_signed_for_something_else(user: Any) -> None:
    other = signing.dumps({"u": str(user.pk), "n": "tok", "j": "x", "e": 2**40}, salt="some.other.salt")
    with pytest.raises(InvalidConnectToken, match="signature"):
        read_connect_token(other)
    valid_shape_wrong_key = signing.dumps({"u": "1"}, salt=SALT, key="another-secret-key-0123456789abcdef")
    with pytest.raises(InvalidConnectToken):
        read_connect_token(valid_shape_wrong_key)


@pytest.mark.parametrize("token", ["", "short", "x" * 5000, "a:b:c:d:e:f"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(InvalidConnectToken):
        read_connect_token(token)


def test_missing_claims_are_malformed() -> None:
    with pytest.raises(InvalidConnectToken, match="malformed"):
        read_connect_token(signing.dumps({"u": "1"}, salt=SALT))


def test_password_change_invalidates_database_tokens(user: Any) -> None:
    token = make_connect_token(user)
    user.set_password("changed-password-987")
    user.save()
    assert connect_with(token)[1] == 401


def test_tokens_only_for_authenticated_users() -> None:
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ValueError):
        make_connect_token(AnonymousUser())


def test_consume_is_single_use(user: Any) -> None:
    token = make_connect_token(user)
    assert consume_connect_token(token).username == "tok"
    with pytest.raises(InvalidConnectToken, match="already used"):
        consume_connect_token(token)


def test_token_view(user: Any) -> None:
    client = Client()
    assert client.get("/ws/token").status_code == 401
    client.force_login(user)
    response = client.get("/ws/token")
    body = json.loads(response.content)
    assert response["Cache-Control"] == "no-store"
    assert body["param"] == "token" and body["expires_in"] == 60
    assert read_connect_token(body["token"]).user_id == str(user.pk)
    assert client.post("/ws/token").status_code in (403, 405)  # CSRF or method: never a token for a POST


def test_claims_users_need_no_user_database(user: Any, dynamodb_settings: dict[str, Any]) -> None:
    """On Lambda with the DynamoDB store and no user database: the user is built from the token."""
    token = make_connect_token(user)
    user.delete()  # nothing left to look up: only the signed claims remain
    with override_settings(WEBSOCKETS={**dynamodb_settings, "TOKEN_USERS": "claims"}):
        ws, status = connect_with(token)
        assert status == 200
        who = ws.send({"action": "whoami"}).json()
        assert (who["authenticated"], who["name"]) == (True, "tok")
        assert connect_with(token)[1] == 401  # replay guard lives in DynamoDB too
