"""Property tests: the Lambda handler never raises and never answers 500, whatever event it gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.events import Connection, is_websocket_event
from django_aws_api_gateway_websockets.routing import select_route_key

pytestmark = pytest.mark.django_db

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def handler() -> Any:
    import lambda_handler

    return lambda_handler.handler


def assert_clean(response: dict[str, Any]) -> None:
    assert isinstance(response, dict)
    assert isinstance(response["statusCode"], int)
    assert response["statusCode"] != 500
    assert isinstance(response.get("body", ""), str)


@FUZZ
@given(event=json_values)
def test_arbitrary_json_events(handler: Any, event: Any) -> None:
    assert_clean(handler(event, None))


context_fields = st.fixed_dictionaries(
    {},
    optional={
        "eventType": st.one_of(st.sampled_from(["CONNECT", "DISCONNECT", "MESSAGE"]), json_values),
        "connectionId": st.one_of(st.text(max_size=20), json_values),
        "apiId": st.one_of(st.just("fz01fz02fz"), json_values),
        "stage": st.one_of(st.just("prod"), json_values),
        "domainName": st.one_of(st.just("fz01fz02fz.execute-api.us-east-1.amazonaws.com"), st.text(max_size=30)),
        "routeKey": json_values,
        "identity": st.one_of(st.fixed_dictionaries({"sourceIp": st.text(max_size=20)}), json_values),
        "disconnectStatusCode": json_values,
        "disconnectReason": json_values,
    },
)


@FUZZ
@given(context=context_fields, body=st.one_of(st.none(), st.text(max_size=50), json_values),
       b64=st.one_of(st.booleans(), json_values),
       headers=st.one_of(st.none(), st.dictionaries(st.text(max_size=15), st.text(max_size=15), max_size=5), json_values))
def test_websocket_shaped_events(handler: Any, context: dict[str, Any], body: Any, b64: Any, headers: Any) -> None:
    event = {"requestContext": {"connectionId": "fuzz=", "eventType": "MESSAGE", **context}, "body": body,
             "isBase64Encoded": b64, "headers": headers, "multiValueHeaders": headers}
    response = handler(event, None)
    assert_clean(response)
    if not is_websocket_event(event):
        return
    assert response["statusCode"] < 500


@FUZZ
@given(body=st.one_of(st.text(max_size=200), st.binary(max_size=200),
                      json_values.map(json.dumps)), binary=st.booleans())
def test_well_formed_messages_with_any_body(handler: Any, body: Any, binary: bool) -> None:
    connection = Connection(api_id="fz01fz02fz")
    with override_settings(WEBSOCKETS={"VIEW": "app.websocket_views.ChatView", "CONNECT_RATE_LIMIT_PER_IP": None}):
        assert handler(connection.connect_event(), None)["statusCode"] == 200
        response = handler(connection.message_event(body, binary=binary), None)
    assert_clean(response)
    assert response["statusCode"] in (200, 400, 403, 413)


@given(body=st.one_of(st.text(max_size=60), st.binary(max_size=60), json_values.map(json.dumps)),
       routes=st.lists(st.text(min_size=1, max_size=8), max_size=4))
def test_route_selection_is_total(body: Any, routes: list[str]) -> None:
    key = select_route_key(body, routes)
    assert key == "$default" or key in routes
