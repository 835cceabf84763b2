"""Property tests through ``lambda_handler.handler``: whatever event arrives (arbitrary JSON, WebSocket-shaped
events with hostile fields, forged HTTP events at the WebSocket URLs, any message body), nothing escapes, no
answer is a 5xx, a WebSocket event never gets an HTML page, and a forged event never gets in.

Budgets: see tests/fuzzing.py (``HYPOTHESIS_PROFILE=long`` for 100,000 examples per property).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.events import Connection, is_websocket_event
from django_aws_api_gateway_websockets.routing import select_route_key
from tests.fuzzing import any_text, bodies, cookies, fuzz, json_values, maybe, origins, paths, protocols, tokens

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = {"VIEW": "app.websocket_views.ChatView", "CONNECT_RATE_LIMIT_PER_IP": None,
                 "CONNECT_RATE_LIMIT_PER_USER": None, "ENDPOINT_URL": "http://127.0.0.1:9", "MAX_RETRIES": 0}


@pytest.fixture(scope="module")
def handler() -> Any:
    import lambda_handler

    return lambda_handler.handler


@pytest.fixture(autouse=True)
def _fuzz_settings() -> Iterator[None]:
    # Broadcasts (join, post) go to a closed local port without retries: fast, and never to the internet.
    with override_settings(WEBSOCKETS=FUZZ_SETTINGS):
        yield


def assert_clean(response: Any, websocket: bool = False) -> None:
    assert isinstance(response, dict)
    assert isinstance(response["statusCode"], int)
    assert response["statusCode"] < 500, response
    assert isinstance(response.get("body", ""), str)
    if websocket and response["statusCode"] >= 400:
        assert isinstance(json.loads(response["body"])["error"], str)


@fuzz(300)
@given(event=json_values)
def test_arbitrary_json_events(handler: Any, event: Any) -> None:
    assert_clean(handler(event, None))


context_fields = st.fixed_dictionaries(
    {},
    optional={
        "eventType": st.one_of(st.sampled_from(["CONNECT", "DISCONNECT", "MESSAGE"]), json_values),
        "connectionId": st.one_of(st.text(max_size=20), any_text, json_values),
        "apiId": st.one_of(st.just("fz01fz02fz"), any_text, json_values),
        "stage": st.one_of(st.just("prod"), any_text, json_values),
        "domainName": st.one_of(st.just("fz01fz02fz.execute-api.us-east-1.amazonaws.com"), any_text),
        "routeKey": json_values,
        "requestId": json_values,
        "identity": st.one_of(st.fixed_dictionaries({"sourceIp": any_text, "userAgent": any_text}), json_values),
        "disconnectStatusCode": st.one_of(st.integers(), json_values),
        "disconnectReason": st.one_of(any_text, json_values),
    },
)
headers_like = st.one_of(st.none(), st.dictionaries(any_text, any_text, max_size=5), json_values)


@fuzz(300)
@given(context=context_fields, body=st.one_of(st.none(), bodies, json_values),
       b64=st.one_of(st.booleans(), json_values), headers=headers_like, multi=headers_like,
       query=st.one_of(st.none(), st.dictionaries(any_text, st.one_of(any_text, st.lists(any_text)), max_size=3)))
def test_websocket_shaped_events(handler: Any, context: dict[str, Any], body: Any, b64: Any, headers: Any,
                                 multi: Any, query: Any) -> None:
    event = {"requestContext": {"connectionId": "fuzz=", "eventType": "MESSAGE", **context}, "body": body,
             "isBase64Encoded": b64, "headers": headers, "multiValueHeaders": multi,
             "queryStringParameters": query, "multiValueQueryStringParameters": query}
    assert_clean(handler(event, None), websocket=is_websocket_event(event))


@fuzz(300)
@given(body=bodies, binary=st.booleans(), status=st.one_of(st.integers(0, 65535), st.integers()),
       reason=any_text)
def test_a_whole_connection_with_any_message(handler: Any, body: Any, binary: bool, status: int, reason: str) -> None:
    connection = Connection(api_id="fz01fz02fz")
    assert handler(connection.connect_event(), None)["statusCode"] == 200
    if isinstance(body, str) and binary:
        body = body.encode("utf-8", "surrogatepass")
    response = handler(connection.message_event(body, binary=binary), None)
    assert_clean(response, websocket=True)
    assert response["statusCode"] in (200, 400, 403, 413)
    assert_clean(handler(connection.disconnect_event(status, reason), None), websocket=True)


@fuzz(200)
@given(origin=maybe(origins, any_text), cookie=maybe(cookies, any_text), protocol=maybe(protocols, any_text),
       token=maybe(tokens, any_text), path=maybe(paths, any_text))
def test_connect_with_any_handshake_the_view_reads(handler: Any, origin: str | None, cookie: str | None,
                                                   protocol: str | None, token: str | None, path: str | None) -> None:
    headers = {name: value for name, value in (("Origin", origin), ("Cookie", cookie),
                                               ("Sec-WebSocket-Protocol", protocol)) if value is not None}
    query = {name: value for name, value in (("token", token), ("path", path)) if value is not None}
    response = handler(Connection(api_id="fz01fz02fz").connect_event(headers=headers, query=query or None), None)
    assert_clean(response, websocket=True)
    assert response["statusCode"] in (200, 400, 401, 403), response


@fuzz(200)
@given(kind=st.sampled_from(["connect", "disconnect", "messages"]), shape=st.sampled_from(["v2", "v1", "alb"]),
       headers=st.dictionaries(st.sampled_from(["Connectionid", "connectionid", "CONNECTIONID", "Connection_Id",
                                                "User-Agent", "X-Amzn-Apigateway-Api-Id", "X-Websocket-Secret",
                                                "x_websocket_secret", "Host", "X-Forwarded-For", "Cookie",
                                                "Sec-WebSocket-Key", "Content-Length"]),
                               st.one_of(st.just("fuzz="), st.just("AmazonAPIGateway_fz"), any_text), max_size=8),
       body=bodies)
def test_forged_http_events_never_reach_a_websocket_view(handler: Any, kind: str, shape: str, headers: dict[str, str],
                                                         body: Any) -> None:
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8", "surrogatepass")
    path = f"/ws/{kind}"
    if shape == "v2":
        event: dict[str, Any] = {
            "version": "2.0", "rawPath": path, "rawQueryString": "", "headers": {k.lower(): v for k, v in headers.items()},
            "requestContext": {"http": {"method": "POST", "path": path, "sourceIp": "198.51.100.1"}},
            "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    else:
        event = {"httpMethod": "POST", "path": path, "headers": headers, "body": base64.b64encode(raw).decode(),
                 "isBase64Encoded": True,
                 "requestContext": {"elb": {"targetGroupArn": "arn"}} if shape == "alb" else {"stage": "prod"}}
    response = handler(event, None)
    assert_clean(response)
    assert response["statusCode"] in (400, 403, 404), response


@fuzz(300)
@given(body=st.one_of(bodies, st.binary(max_size=60)), routes=st.lists(st.text(min_size=1, max_size=8), max_size=4))
def test_route_selection_is_total(body: Any, routes: list[str]) -> None:
    key = select_route_key(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body, routes)
    assert key == "$default" or key in routes
