"""lambda_handler.authorize, the optional REQUEST authorizer on $connect: a valid connect token or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from django_aws_api_gateway_websockets.tokens import make_connect_token

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/staging/$connect"


def authorizer_event(query: dict[str, str] | None) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "queryStringParameters": query,
            "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "abc="}}


@pytest.mark.django_db
def test_a_valid_token_is_allowed_with_its_user_as_context(django_user_model: Any) -> None:
    from lambda_handler import authorize

    user = django_user_model.objects.create_user("alice")
    result = authorize(authorizer_event({"token": make_connect_token(user)}), None)
    assert result["principalId"] == str(user.pk)
    (statement,) = result["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
    assert result["context"] == {"userId": str(user.pk), "username": "alice"}
    # Only read: the connect view still uses the token up, once.
    assert authorize(authorizer_event({"token": make_connect_token(user)}), None)["policyDocument"][
        "Statement"][0]["Effect"] == "Allow"


@pytest.mark.django_db
@pytest.mark.parametrize("query", [None, {}, {"token": "forged.token.value"}, {"token": "x" * 5000}])
def test_anything_else_is_denied(query: dict[str, str] | None, django_user_model: Any) -> None:
    from lambda_handler import authorize

    result = authorize(authorizer_event(query), None)
    assert result["principalId"] == "anonymous" and result["context"] == {}
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.django_db
def test_an_expired_token_is_denied(django_user_model: Any) -> None:
    from lambda_handler import authorize

    token = make_connect_token(django_user_model.objects.create_user("bob"), max_age=-10)
    assert authorize(authorizer_event({"token": token}), None)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert authorize("not an event", None)["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}
