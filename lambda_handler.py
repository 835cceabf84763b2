"""AWS Lambda entry points: ``lambda_handler.handler`` (every WebSocket event) and ``lambda_handler.authorize``
(the optional REQUEST authorizer on ``$connect``).

Django is configured once, at import (the cold start, or the SnapStart snapshot); every invocation then runs
one API Gateway event (WebSocket, REST, HTTP API or ALB) through the project's WSGI application. On Lambda the
handler writes a JSON log line and EMF metrics per event (``observability``), and SnapStart restores run the
resets the app registered (``snapstart``).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from django_aws_api_gateway_websockets import observability, snapstart  # noqa: E402
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler  # noqa: E402
from django_aws_api_gateway_websockets.tokens import InvalidConnectToken, read_connect_token  # noqa: E402

application = get_wsgi_application()
handler = observability.instrument(make_websocket_handler(application))
snapstart.install()


def authorize(event: Any, context: Any) -> dict[str, Any]:
    """REQUEST authorizer for ``$connect`` (identity source: the ``token`` query parameter): allows the
    connection when the connect token is validly signed and unexpired, and hands its user to the route as the
    authorizer context. It does not use the token up: Django's connect view still does (single use)."""
    params = event.get("queryStringParameters") if isinstance(event, dict) else None
    token = params.get("token") if isinstance(params, dict) else None
    method_arn = event.get("methodArn", "*") if isinstance(event, dict) else "*"
    try:
        claims = read_connect_token(token)  # type: ignore[arg-type]
    except InvalidConnectToken:
        return _policy("anonymous", "Deny", method_arn, {})
    return _policy(claims.user_id, "Allow", method_arn, {"userId": claims.user_id, "username": claims.username})


def _policy(principal: str, effect: str, resource: str, context: dict[str, str]) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": context}
